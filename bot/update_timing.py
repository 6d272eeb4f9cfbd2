"""Where one update's time goes: waiting its turn, the database, Telegram's limits, Telegram.

The webhook answers every update with a `Server-Timing` header (the W3C header browsers' and
proxies' tools read) and adds the parts to /metrics, so a slow answer can be taken apart in
production and the load benchmark can show it per step of sign-up. Times are wall time within
this update: a database call also counts the moments the event loop spent on other updates
while it waited, which is what she waited too.

Parts do not nest: the database work of taking a send slot counts as `slot`, not `db`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# turn: waiting for her chat's turn and a free place among the updates in flight;
# db: SQL statements (BEGIN/COMMIT and waiting for a pooled connection are not statements);
# slot: waiting for Telegram's limits (a second per chat, 30 a second for the bot);
# telegram: Bot API calls, from request to answer;
# app: the rest, our code and python-telegram-bot's.
PARTS = ("turn", "db", "slot", "telegram", "app")

_STARTED = "update_timing_started"


@dataclass
class UpdateTiming:
    """The parts of one update's time so far, in seconds."""

    started: float = field(default_factory=time.perf_counter)
    parts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))
    inside: str | None = None

    def total(self) -> float:
        return time.perf_counter() - self.started

    def finished(self) -> dict[str, float]:
        """Every part, `app` being what the others leave of the total."""
        done = dict(self.parts)
        done["app"] = max(self.total() - sum(v for k, v in done.items() if k != "app"), 0.0)
        return done

    def header(self) -> str:
        """The Server-Timing value: each part and the total, in milliseconds."""
        done = self.finished()
        entries = [f"{name};dur={done[name] * 1000:.1f}" for name in PARTS]
        return ", ".join([*entries, f"total;dur={self.total() * 1000:.1f}"])


_current: ContextVar[UpdateTiming | None] = ContextVar("update_timing", default=None)


@contextmanager
def timing_update() -> Iterator[UpdateTiming]:
    """Time the update handled inside (and anything it awaits) part by part."""
    timing = UpdateTiming()
    token = _current.set(timing)
    try:
        yield timing
    finally:
        _current.reset(token)


@contextmanager
def part(name: str) -> Iterator[None]:
    """Count the time inside as `name`, unless a part is already being counted."""
    timing = _current.get()
    if timing is None or timing.inside is not None:
        yield
        return
    timing.inside = name
    started = time.perf_counter()
    try:
        yield
    finally:
        timing.parts[name] += time.perf_counter() - started
        timing.inside = None


def watch_statements(engine: AsyncEngine) -> None:
    """Count every SQL statement's time as `db` for the update that runs it."""
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "before_cursor_execute", _before):
        return
    event.listen(sync_engine, "before_cursor_execute", _before)
    event.listen(sync_engine, "after_cursor_execute", _after)
    event.listen(sync_engine, "handle_error", _failed)


def _before(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: Any
) -> None:
    timing = _current.get()
    if timing is not None and timing.inside is None:
        conn.info[_STARTED] = (timing, time.perf_counter())


def _after(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: Any
) -> None:
    _stop(conn)


def _failed(context: Any) -> None:
    connection = context.connection
    if connection is not None:
        _stop(connection)


def _stop(conn: Any) -> None:
    begun = conn.info.pop(_STARTED, None)
    if begun is not None:
        timing, started = begun
        timing.parts["db"] += time.perf_counter() - started
