"""python-telegram-bot's replies, within the limits all workers share (delivery/send_limits.py).

PTB's AIORateLimiter counts in one process only: with N workers each would allow the whole
budget, and the delivery engine's bulk sends would not count at all. This one takes a slot for
each message from the same shared limits as the engine, as a reply (first call on the places),
and finishes it when Telegram has answered. A 429 (someone outside the limits sent) waits as
Telegram says and tries again, as AIORateLimiter did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.send_limits import Kind, Now, SendLimits, Sleep, acquire
from bot.update_timing import part

logger = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


def counts_as_message(endpoint: str) -> bool:
    """Telegram's flood limits count messages sent; chat actions, edits and answers are free."""
    return endpoint.startswith(("send", "copyMessage", "forwardMessage")) and (
        endpoint != "sendChatAction"
    )


class SharedRateLimiter(BaseRateLimiter[None]):
    """Takes a reply's slot from the shared limits around each message PTB sends."""

    def __init__(
        self, send_limits: SendLimits, now: Now, sleep: Sleep, max_retries: int = 3
    ) -> None:
        self._limits = send_limits
        self._now = now
        self._sleep = sleep
        self._max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to open: the limits connect when first asked."""

    async def shutdown(self) -> None:
        """Nothing to close here: the application closes the limits (post_shutdown)."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> JSONResult:
        """Wait for a slot, send, finish the slot; a 429 waits as told and tries again."""
        chat_id = data.get("chat_id")
        counted = counts_as_message(endpoint)
        # A channel's @username has no number: all of those share one chat's second.
        chat = chat_id if isinstance(chat_id, int) else 0
        for attempt in range(self._max_retries + 1):
            slot = None
            if counted:
                with part("slot"):
                    slot = await acquire(self._limits, chat, Kind.REPLY, self._now, self._sleep)
            try:
                with part("telegram"):
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                refused = exc
            finally:
                # Answered (or failed): the slot counts until a second from now.
                if slot is not None:
                    await self._limits.finish(slot, self._now())
            if attempt == self._max_retries:
                raise refused
            wait = refused.retry_after
            seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
            logger.warning("429 on %s: waiting %gs", endpoint, seconds)
            await self._sleep(seconds)
        raise AssertionError("unreachable")


class TimedCalls(BaseRateLimiter[None]):
    """No limits (tests, and a bot whose limits are off): only times each Bot API call, so an
    update's time is taken apart the same way with or without them."""

    async def initialize(self) -> None:
        """Nothing to open."""

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
        """Call Telegram, counting the time as `telegram`."""
        with part("telegram"):
            return await callback(*args, **kwargs)
