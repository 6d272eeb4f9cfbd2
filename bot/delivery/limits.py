"""Pacing for bulk sends: an overall rate, a paid-broadcast rate and a minimum gap per chat.

The engine waits before each send until these allow it, so Telegram never has to refuse one;
a 429 that happens anyway (another process, interactive replies) is handled by the engine.
"""

from __future__ import annotations

from collections import OrderedDict


class Pacer:
    """At most `rate` sends a second, catching up by at most `burst` sends after a stall (GCRA)."""

    def __init__(self, rate: float, burst: float = 2.0) -> None:
        self.interval = 1.0 / rate
        self._tolerance = self.interval * max(burst - 1.0, 0.0)
        self._next = float("-inf")

    def delay(self, now: float) -> float:
        """Seconds to wait before the next send may go."""
        return max(0.0, self._next - self._tolerance - now)

    def take(self, now: float) -> None:
        """Count a send made at `now`."""
        self._next = max(self._next, now) + self.interval


class ChatSpacing:
    """A minimum gap between two sends to the same chat."""

    def __init__(self, gap: float, remember: int = 100_000) -> None:
        self.gap = gap
        self._remember = remember
        self._last: OrderedDict[int, float] = OrderedDict()

    def delay(self, chat_id: int, now: float) -> float:
        """Seconds to wait before this chat may get another message."""
        last = self._last.get(chat_id)
        return 0.0 if last is None else max(0.0, last + self.gap - now)

    def hold(self, chat_id: int, until: float) -> None:
        """This chat may get nothing before `until` (someone else wrote to her)."""
        self.take(chat_id, until - self.gap)

    def take(self, chat_id: int, now: float) -> None:
        """Count a send to this chat at `now`."""
        self._last[chat_id] = now
        self._last.move_to_end(chat_id)
        # Only recent sends matter; the oldest are forgotten so memory stays bounded.
        while len(self._last) > self._remember:
            self._last.popitem(last=False)
