"""What follows /start, read however the command was typed."""

from __future__ import annotations

import re

# Telegram sends "/start PAYLOAD"; people and clients also produce "/start@BotName PAYLOAD",
# several spaces or a tab, and capitals. "/started" is another command, not /start.
_START = re.compile(r"/start(?:@[A-Za-z0-9_]+)?(?:\s+(\S+).*)?", re.IGNORECASE | re.DOTALL)


def start_payload(text: str) -> str | None:
    """The first word after /start, or None when there is none (or it is not /start)."""
    match = _START.fullmatch(text.strip())
    return match.group(1) if match else None
