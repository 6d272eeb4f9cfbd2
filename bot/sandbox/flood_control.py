"""Telegram's flood limits, enforced by the fake: a 429 with retry_after when a bot sends too fast.

Each limit is a GCRA (a token bucket kept as one "theoretical arrival time"): sending at the rate
exactly always passes, and `tolerance` seconds of jitter are forgiven, as network latency would
otherwise turn a perfectly paced sender into a flooding one. A refused call consumes nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FloodControl"]


@dataclass
class FloodControl:
    """Limits per bot: overall and paid-broadcast messages per second, and per chat."""

    overall_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    paid_per_second: float = 1000.0
    tolerance: float = 0.2
    clock: Callable[[], float] = time.monotonic
    accepted: int = 0
    refused: int = 0
    _overall: float = field(default=0.0, repr=False)
    _paid: float = field(default=0.0, repr=False)
    _chats: dict[int | str, float] = field(default_factory=dict, repr=False)

    def check(self, chat_id: int | str, paid: bool) -> int | None:
        """None if the message may go now (and count it), else the seconds to wait."""
        now = self.clock()
        rate = self.paid_per_second if paid else self.overall_per_second
        shared = self._paid if paid else self._overall
        chat = self._chats.get(chat_id, 0.0)
        wait = max(
            shared - self.tolerance - now,
            chat - self.tolerance - now if self.per_chat_per_second > 0 else 0.0,
        )
        if wait > 0:
            self.refused += 1
            # Telegram's retry_after is whole seconds, at least one.
            return max(1, math.ceil(wait))
        self.accepted += 1
        if paid:
            self._paid = max(shared, now) + 1.0 / rate
        else:
            self._overall = max(shared, now) + 1.0 / rate
        if self.per_chat_per_second > 0:
            self._chats[chat_id] = max(chat, now) + 1.0 / self.per_chat_per_second
        return None
