"""python-telegram-bot's replies, paced by the limits every worker shares (bot/delivery/pacing.py).

PTB's AIORateLimiter counts in one process only; with N workers each would allow the whole
budget. This one reserves a moment for each message in the shared pacing, the same budget the
delivery engine's bulk sends take theirs from, and retries a 429 after Telegram's retry_after.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.pacing import Pacing, acquire

logger = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


def counts_as_message(endpoint: str) -> bool:
    """Telegram's flood limits count messages sent; chat actions, edits and answers are free."""
    return endpoint.startswith("send") and endpoint != "sendChatAction"


class SharedRateLimiter(BaseRateLimiter[None]):
    """Paces PTB's sends with the shared pacing; made at build time, the pacing in post_init."""

    def __init__(
        self,
        pacing: Callable[[], Pacing | None],
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        max_retries: int = 3,
    ) -> None:
        self._pacing = pacing
        self._now = now
        self._sleep = sleep
        self._max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to open: the pacing belongs to the application."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> JSONResult:
        """Wait for a moment in the shared budget, then send; a 429 waits and tries again."""
        chat_id = data.get("chat_id")
        paced = counts_as_message(endpoint) and isinstance(chat_id, int)
        for attempt in range(self._max_retries + 1):
            pacing = self._pacing()
            if paced and pacing is not None:
                assert isinstance(chat_id, int)
                await acquire(pacing, chat_id, self._now, self._sleep)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self._max_retries:
                    raise
                # Another sender (outside the shared budget) flooded: wait as Telegram says.
                wait = exc.retry_after
                seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
                logger.warning("429 on %s: waiting %gs", endpoint, seconds)
                await self._sleep(seconds)
        raise AssertionError("unreachable")
