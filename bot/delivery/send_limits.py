"""Telegram's flood limits for the whole bot token: every worker's replies and bulk sends together.

Telegram counts per bot token: at most 30 messages in any second overall, and no two messages to
one chat within a second; paid broadcasts (allow_paid_broadcast) may go faster overall but keep
the per-chat second. Every message first takes a *slot*; the slot is finished once Telegram has
answered. A slot occupies the limits from the moment it is taken until `window` seconds after
its answer (while unanswered, it occupies them all along). Telegram counts a message when it
arrives, which is after the slot was taken and before the answer, so counting the slot over that
whole span keeps the limits at Telegram's end however long the request spent on the wire: a
plain "30 taken in the last second" would let 31 arrive within a second when the first was slow.

Replies take precedence: a reply may take any of the `overall` places, a bulk send only
`overall - reserve` of them while replies were taken in the last `recent` seconds, so bulk sends
leave room that replies take at once; while nobody is writing, bulk sends leave `idle_reserve`
(one place), enough for the first reply to go at once, and use the rest.

On PostgreSQL the slots are rows of `send_slots` (UNLOGGED: they matter for seconds), taken by
the function `take_send_slot` in one statement under a transaction advisory lock, so workers take
turns for a fraction of a millisecond; each worker talks to it over one connection of its own.
SQLite means one process, and the slots live in memory with the same rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from sqlalchemy import make_url

logger = logging.getLogger(__name__)

Now = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# An unanswered slot stops counting this long after it was taken: longer than any request's
# timeout, so only a send whose worker died is forgotten (and then safely late).
STALE_SECONDS = 60.0
# How often a bulk send asks again while the chat's or everyone's places are taken, at most.
_MIN_WAIT = 0.01


class Kind(enum.Enum):
    """Who sends: a reply (first call on the places), a bulk send, or a paid broadcast."""

    REPLY = "reply"
    BULK = "bulk"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class Taken:
    """The answer to a request for a slot: `slot` when granted, else how long to wait."""

    slot: int | None
    wait: float = 0.0
    # Refused because of this chat's own second (others may go meanwhile).
    chat_busy: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """The numbers: places a second overall, those kept for replies, the per-chat gap."""

    overall: int = 30
    reserve: int = 6
    window: float = 1.0
    chat_gap: float = 1.0
    idle_reserve: int = 1
    recent: float = 10.0

    def places(self, kind: Kind, replying: bool = True) -> int | None:
        """How many slots may occupy the window when one of `kind` is taken (None: no cap);
        `replying`: replies were taken in the last `recent` seconds."""
        if kind is Kind.PAID:
            return None
        if kind is Kind.BULK:
            return max(1, self.overall - (self.reserve if replying else self.idle_reserve))
        return self.overall


class SendLimits(Protocol):
    """Slots within Telegram's limits, shared by every sender of the bot token."""

    limits: Limits

    async def take(self, chat_id: int, kind: Kind, now: float) -> Taken:
        """A slot for one message to `chat_id` at `now` (seconds), or how long to wait."""
        ...

    async def finish(self, slot: int, now: float) -> None:
        """Telegram answered the slot's message at `now`."""
        ...

    async def aclose(self) -> None:
        """Close what it opened."""
        ...


class LocalSendLimits:
    """The slots of one process (SQLite), with the same rules as the database's.

    Kept so that a take costs about the same at 1000 a second as at 30: slots are forgotten
    oldest first, a chat's own are found by chat, and only unpaid ones are counted overall.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._ids = itertools.count(1)
        # slot -> (chat, paid, taken at, answered at or None), in the order taken
        self._slots: dict[int, tuple[int, bool, float, float | None]] = {}
        self._by_chat: dict[int, set[int]] = {}
        self._unpaid: dict[int, None] = {}
        self._last_reply = float("-inf")

    @staticmethod
    def _end(taken: float, answered: float | None) -> float:
        return answered if answered is not None else taken + STALE_SECONDS

    def _forget(self, now: float) -> None:
        # Oldest first, up to the first that still counts (or is still on the wire): cheap at
        # any rate, and what is left behind it is filtered out when counting.
        keep = max(self.limits.window, self.limits.chat_gap)
        gone = []
        for slot, (_, _, taken, answered) in self._slots.items():
            if self._end(taken, answered) + keep > now:
                break
            gone.append(slot)
        for slot in gone:
            chat = self._slots.pop(slot)[0]
            self._unpaid.pop(slot, None)
            mine = self._by_chat[chat]
            mine.discard(slot)
            if not mine:
                del self._by_chat[chat]

    async def take(self, chat_id: int, kind: Kind, now: float) -> Taken:
        """Grant if the chat's gap and the kind's places allow it at `now`."""
        limits = self.limits
        self._forget(now)
        # An unanswered message ends no earlier than now: ask again a gap from now.
        busy = [
            min(self._end(taken, answered), now) + limits.chat_gap
            for _, _, taken, answered in (self._slots[s] for s in self._by_chat.get(chat_id, ()))
            if self._end(taken, answered) + limits.chat_gap > now
        ]
        if busy:
            return Taken(None, max(max(busy) - now, _MIN_WAIT), chat_busy=True)
        places = limits.places(kind, replying=now - self._last_reply < limits.recent)
        if places is not None:
            ends = sorted(
                min(self._end(taken, answered), now)
                for _, _, taken, answered in (self._slots[s] for s in self._unpaid)
                if self._end(taken, answered) + limits.window > now
            )
            if len(ends) >= places:
                # Free once enough of the oldest have left the window.
                leaving = ends[len(ends) - places]
                return Taken(None, max(leaving + limits.window - now, _MIN_WAIT))
        slot = next(self._ids)
        self._slots[slot] = (chat_id, kind is Kind.PAID, now, None)
        self._by_chat.setdefault(chat_id, set()).add(slot)
        if kind is not Kind.PAID:
            self._unpaid[slot] = None
        if kind is Kind.REPLY:
            self._last_reply = max(self._last_reply, now)
        return Taken(slot)

    async def finish(self, slot: int, now: float) -> None:
        """Note the answer: the slot occupies the limits until a window after it."""
        found = self._slots.get(slot)
        if found is not None:
            chat, paid, taken, _ = found
            self._slots[slot] = (chat, paid, taken, max(now, taken))

    async def aclose(self) -> None:
        """Nothing to close."""


class DatabaseSendLimits:
    """The slots of every worker on one PostgreSQL database (table send_slots).

    One connection of its own (asyncpg, without SQLAlchemy's per-statement cost: bulk sends at
    paid rates ask twice per message), used by one caller at a time; a broken connection is
    dropped and made again at the next call.
    """

    def __init__(self, database_url: str, limits: Limits) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.limits = limits
        self._connection: Any = None
        self._turn = asyncio.Lock()

    async def _connected(self) -> Any:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn)
        return self._connection

    async def _ask(self, query: str, *args: Any) -> Any:
        async with self._turn:
            connection = await self._connected()
            try:
                return await connection.fetchrow(query, *args)
            except BaseException as failed:
                lost = connection.is_closed() or isinstance(
                    failed, asyncpg.exceptions.InternalClientError
                )
                await self._drop()
                if lost and isinstance(failed, Exception):
                    # PostgreSQL went away under it (a restart): asyncpg then reports its own
                    # state ('another operation in progress'). Said as what it is, so the
                    # update is pushed again rather than apologised for.
                    raise ConnectionError("the send limits' connection was lost") from failed
                raise

    async def take(self, chat_id: int, kind: Kind, now: float) -> Taken:
        """Grant or refuse in one statement (take_send_slot, migrations 0033 and 0035)."""
        limits = self.limits
        row = await self._ask(
            "SELECT slot, wait, chat_busy "
            "FROM take_send_slot($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            chat_id,
            now,
            kind.value,
            limits.overall,
            limits.reserve,
            limits.idle_reserve,
            limits.recent,
            limits.window,
            limits.chat_gap,
            STALE_SECONDS,
        )
        if row["slot"] is not None:
            return Taken(int(row["slot"]))
        return Taken(None, max(float(row["wait"]), _MIN_WAIT), chat_busy=bool(row["chat_busy"]))

    async def finish(self, slot: int, now: float) -> None:
        """Note the answer in the slot's row."""
        await self._ask(
            "UPDATE send_slots SET answered_at = greatest($2, taken_at) WHERE id = $1", slot, now
        )

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()

    async def aclose(self) -> None:
        """Close the connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


# Options of SQLAlchemy's asyncpg dialect, not of the connection (asyncpg would send them to the
# server as settings, which refuses them).
_DIALECT_OPTIONS = frozenset(
    {"prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback"}
)


def asyncpg_dsn(database_url: str) -> str:
    """DATABASE_URL as asyncpg's own connect() reads it (`ssl=` becomes libpq's `sslmode=`)."""
    url = make_url(database_url)
    query = {k: v for k, v in url.query.items() if k not in _DIALECT_OPTIONS}
    if "ssl" in query and "sslmode" not in query:
        query["sslmode"] = query.pop("ssl")
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


def create_send_limits(database_url: str, limits: Limits) -> SendLimits:
    """Shared through the database on PostgreSQL; in memory for SQLite's single process."""
    if database_url.startswith("postgresql"):
        return DatabaseSendLimits(database_url, limits)
    return LocalSendLimits(limits)


async def acquire(send_limits: SendLimits, chat_id: int, kind: Kind, now: Now, sleep: Sleep) -> int:
    """Wait until a message to `chat_id` may go; returns its slot (finish it after the answer)."""
    while True:
        taken = await send_limits.take(chat_id, kind, now())
        if taken.slot is not None:
            return taken.slot
        await sleep(taken.wait)
