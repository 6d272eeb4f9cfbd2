"""Which worker leads: background work (daily plan, bulk sends, recurring jobs) runs on one only.

On PostgreSQL the leader holds a session advisory lock on a connection of its own. A leader that
stops (SIGTERM) releases the lock and says so (NOTIFY on LEAD_CHANNEL, which every worker's
connection LISTENs on): another takes the lead at once. PostgreSQL also drops the lock the moment
that session ends: a worker that is killed or loses its connection stops leading, and another
takes the lock at its next try, at most `interval` seconds later (LEAD_CHECK_SECONDS, 5 s). The
leader checks its connection as often, and steps down when it is gone. A leader cut off without
its socket closing (a pulled cable) keeps the lock until PostgreSQL notices the dead connection
(its TCP keepalive settings).

On SQLite there is one process, and it always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

# "bump" in ASCII: the one advisory lock key the bot takes, per database.
LEAD_LOCK_KEY = 0x62756D70
LEAD_CHECK_SECONDS = 5.0
# Where a leader that steps down on purpose tells the others to try now.
LEAD_CHANNEL = "bumpbuddies_lead"

Duty = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


async def _nothing() -> None:
    return None


class Leadership:
    """Campaigns for the lead every `interval` seconds; runs on_lead/on_step_down as it turns."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_lead: Duty = _nothing,
        on_step_down: Duty = _nothing,
        interval: float = LEAD_CHECK_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._engine = engine
        self._on_lead = on_lead
        self._on_step_down = on_step_down
        self.interval = interval
        self._sleep = sleep
        # One process on SQLite: nobody to take turns with.
        self.always = engine.dialect.name != "postgresql"
        self.leading = False
        self._connection: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._turn = asyncio.Lock()
        # Set when another worker announced it released the lead.
        self._released = asyncio.Event()

    async def start(self) -> None:
        """Try for the lead now, then keep trying (or keep checking it) in the background."""
        await self.step()
        if not self.always and self._task is None:
            self._task = asyncio.create_task(self._campaign(), name="leadership")

    async def stop(self) -> None:
        """Stop campaigning, step down (its duties first) and release the lock for another."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._turn:
            if self.leading:
                await self._step_down()
            await self._release()

    async def step(self) -> bool:
        """One round: take the lead if it is free, or check that it is still held."""
        async with self._turn:
            if self.always:
                if not self.leading:
                    await self._take_lead()
                return True
            held = await self._hold()
            if held and not self.leading:
                await self._take_lead()
            elif not held and self.leading:
                logger.warning("lost the lead (its database connection ended): stepping down")
                await self._step_down()
            return self.leading

    async def _campaign(self) -> None:
        while True:
            await self._pause()
            self._released.clear()
            try:
                await self.step()
            except Exception as exc:
                # Keep campaigning: a duty that failed to start is tried again next round.
                logger.error("leadership round failed: %s", type(exc).__qualname__)

    async def _pause(self) -> None:
        """Until the next check, or until another worker announces it released the lead."""
        released = asyncio.ensure_future(self._released.wait())
        slept = asyncio.ensure_future(self._sleep(self.interval))
        try:
            await asyncio.wait({released, slept}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (released, slept):
                waiting.cancel()
            await asyncio.gather(released, slept, return_exceptions=True)

    def _announced(self, *_: object) -> None:
        # asyncpg calls this (connection, pid, channel, payload) when a NOTIFY arrives.
        self._released.set()

    async def _listen(self, connection: AsyncConnection) -> None:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is not None and hasattr(driver, "add_listener"):
            await driver.add_listener(LEAD_CHANNEL, self._announced)

    async def _hold(self) -> bool:
        """Whether this worker holds the lock after this round (taking it if it is free)."""
        try:
            if self._connection is None:
                connection = await self._engine.connect()
                # Outside a transaction: an idle open one would be ended by the server's
                # idle_in_transaction_session_timeout, and the lock with it.
                self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await self._listen(self._connection)
            if self.leading:
                await self._connection.execute(text("SELECT 1"))
                return True
            taken = await self._connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LEAD_LOCK_KEY}
            )
            return bool(taken)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("leadership connection failed: %s", type(exc).__qualname__)
            await self._drop_connection()
            return False

    async def _take_lead(self) -> None:
        self.leading = True
        logger.info("this worker leads: running the background work")
        try:
            await self._on_lead()
        except Exception:
            # Half-started duties are stopped and the lock handed on, so another can lead.
            await self._step_down()
            await self._release()
            raise

    async def _step_down(self) -> None:
        self.leading = False
        await self._on_step_down()

    async def _release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
            # Released on purpose: the others need not wait for their next check.
            await self._connection.execute(
                text("SELECT pg_notify(:channel, '')"), {"channel": LEAD_CHANNEL}
            )
        # Closed, not pooled: the session (and any lock it might still hold) ends here.
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(SQLAlchemyError, OSError):
            await connection.invalidate()
        with contextlib.suppress(SQLAlchemyError, OSError):
            await connection.close()
