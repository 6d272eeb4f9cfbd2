"""Time as the bot sees it: injectable, so tests never wait on real time."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current UTC time."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """The current time in UTC."""
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that only moves when told to; for tests and benchmarks."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware start")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        """The time it was last set to."""
        return self._now

    def advance(self, delta: dt.timedelta) -> None:
        """Move time forward."""
        self._now += delta

    async def sleep(self, seconds: float) -> None:
        """A stand-in for asyncio.sleep that moves this clock instead of waiting."""
        # Like a real sleep, other tasks run meanwhile: first, before time moves on.
        await asyncio.sleep(0)
        self._now += dt.timedelta(seconds=max(seconds, 0.0))

    def set(self, moment: dt.datetime) -> None:
        """Jump to a moment."""
        self._now = moment.astimezone(dt.UTC)
