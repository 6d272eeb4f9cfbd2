"""Telegram's flood limits across every worker: replies and bulk sends share one budget.

Telegram counts per bot token: about 30 messages a second overall and one a second per chat.
Each send first reserves a moment to go at. A reservation is granted when the chat's own gap
has passed; it then takes the next free moment overall (a GCRA: `next_at` moves on by
1/rate per send) and sets the chat's next moment a gap after that. When the chat must wait,
nothing is taken and the caller learns when to ask again, so a busy chat never holds up others.

On PostgreSQL the moments live in `send_pacing`, reserved in one statement (the row for all
chats is the one point every worker takes turns on, for well under a millisecond). SQLite means
one process, and the moments are kept in memory.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "ALL_CHATS",
    "DatabasePacing",
    "LocalPacing",
    "Pacing",
    "Reservation",
    "acquire",
    "create_pacing",
]

# The row for all chats together: no Telegram chat has id 0.
ALL_CHATS = 0
# Chats not sent to for this long lose their row: their gap has long passed.
_FORGET_AFTER = 60.0
_PRUNE_EVERY = 1000


@dataclass(frozen=True)
class Reservation:
    """Granted: send at `at`. Not granted: the chat is busy, ask again at `at`."""

    granted: bool
    at: float


class Pacing(Protocol):
    """Reserves moments to send at, within the overall and per-chat limits."""

    async def reserve(self, chat_id: int, now: float) -> Reservation:
        """A moment for one message to `chat_id`, `now` being seconds since the epoch."""
        ...


class LocalPacing:
    """The limits for one process (SQLite)."""

    def __init__(self, per_second: float, chat_gap: float, remember: int = 100_000) -> None:
        self.interval = 1.0 / per_second
        self.chat_gap = chat_gap
        self._next = 0.0
        self._chats: OrderedDict[int, float] = OrderedDict()
        self._remember = remember

    async def reserve(self, chat_id: int, now: float) -> Reservation:
        """Take the next free moment if the chat's gap has passed."""
        free = self._chats.get(chat_id, 0.0)
        if free > now:
            return Reservation(False, free)
        at = max(self._next, now)
        self._next = at + self.interval
        self._chats[chat_id] = at + self.chat_gap
        self._chats.move_to_end(chat_id)
        while len(self._chats) > self._remember:
            self._chats.popitem(last=False)
        return Reservation(True, at)


# One round trip. `overall` only moves on if the chat was free in this statement's snapshot;
# the chat's upsert re-checks under its row lock, so when two workers race for one chat the
# loser gets no chat row back (and wastes one overall moment, which only errs on the safe side).
_RESERVE = text(
    """
    WITH overall AS (
        UPDATE send_pacing SET next_at = greatest(next_at, :now) + :interval
        WHERE chat_id = 0
          AND coalesce((SELECT next_at FROM send_pacing WHERE chat_id = :chat), 0) <= :now
        RETURNING next_at - :interval AS at
    ), chat AS (
        INSERT INTO send_pacing AS p (chat_id, next_at)
        SELECT :chat, at + :gap FROM overall
        ON CONFLICT (chat_id) DO UPDATE SET next_at = excluded.next_at
        WHERE p.next_at <= :now
        RETURNING next_at
    )
    SELECT (SELECT at FROM overall) AS at,
           (SELECT next_at FROM chat) AS chat_next,
           (SELECT next_at FROM send_pacing WHERE chat_id = :chat) AS chat_free
    """
)
_PRUNE = text("DELETE FROM send_pacing WHERE chat_id <> 0 AND next_at < :before")


class DatabasePacing:
    """The limits shared by every worker on one PostgreSQL database."""

    def __init__(self, engine: AsyncEngine, per_second: float, chat_gap: float) -> None:
        self._engine = engine
        self.interval = 1.0 / per_second
        self.chat_gap = chat_gap
        self._count = itertools.count(1)

    async def reserve(self, chat_id: int, now: float) -> Reservation:
        """Take the next free moment overall if the chat's gap has passed, in one statement."""
        if chat_id == ALL_CHATS:
            raise ValueError("chat id 0 is the row for all chats")
        params = {"chat": chat_id, "now": now, "interval": self.interval, "gap": self.chat_gap}
        async with self._engine.begin() as connection:
            row = (await connection.execute(_RESERVE, params)).one()
            if next(self._count) % _PRUNE_EVERY == 0:
                await connection.execute(_PRUNE, {"before": now - _FORGET_AFTER})
        at, chat_next, chat_free = row
        if at is not None and chat_next is not None:
            return Reservation(True, float(at))
        # Busy, or another worker took the chat's moment an instant ago: ask again then.
        return Reservation(False, max(float(chat_free or now), now + self.interval))


def create_pacing(engine: AsyncEngine, per_second: float, chat_gap: float) -> Pacing:
    """Shared through the database on PostgreSQL; in memory for SQLite's single process."""
    if engine.dialect.name == "postgresql":
        return DatabasePacing(engine, per_second, chat_gap)
    return LocalPacing(per_second, chat_gap)


async def acquire(
    pacing: Pacing,
    chat_id: int,
    now: Callable[[], float],
    wait: Callable[[float], Awaitable[None]],
) -> None:
    """Wait until a message to `chat_id` may go (the clock and the waiting are injected)."""
    while True:
        reservation = await pacing.reserve(chat_id, now())
        delay = reservation.at - now()
        if delay > 0:
            await wait(delay)
        if reservation.granted:
            return
