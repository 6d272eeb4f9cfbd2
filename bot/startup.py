"""What `bumpbuddies run` checks and says at start-up: one line per problem, never the token.

The schema check and the token's masking are shared with anything else that starts the bot (an
ASGI server, a health check), so every entry point says the same thing the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from telegram.error import InvalidToken

from bot.db import SchemaState

# A bot token is `<bot id>:<secret>`; the bot id is public (it is the bot's user id).
_TOKEN_SHAPE = re.compile(r"^(\d+):(\S{16,})$")
_REASON_LENGTH = 80


def mask_token(token: str) -> str:
    """Enough of a token to tell which one it is and not enough to use: `123456:…abcd`."""
    shaped = _TOKEN_SHAPE.match(token)
    if shaped is None:
        # Not shaped like a token, so any part of it might be the secret.
        return "…"
    return f"{shaped.group(1)}:…{shaped.group(2)[-4:]}"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret in it masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask_token(secret))
    return text


class RedactingFormatter(logging.Formatter):
    """Masks the token wherever it would appear: messages, arguments and tracebacks alike."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class RefusedTokenFilter(logging.Filter):
    """At start-up, drops python-telegram-bot's own report of a refused token (a traceback).

    `run` says the same in one line when the InvalidToken reaches it. Once the bot has started,
    a refusal (the token revoked while running) is logged as usual, the token masked.
    """

    def __init__(self) -> None:
        super().__init__()
        self.starting = True

    def filter(self, record: logging.LogRecord) -> bool:
        refused = record.exc_info is not None and isinstance(record.exc_info[1], InvalidToken)
        return not (self.starting and refused)


def refused_token_line(exc: InvalidToken, token: str, base_url: str | None) -> str:
    """One line for a token the Bot API refused (401) or an address that has no Bot API (404).

    Telegram answers 401 to a well-formed token it does not know and 404 to a malformed one;
    anything else that answers 404 is most likely not a Bot API at all.
    """
    reason = str(exc.__cause__ if isinstance(exc.__cause__, InvalidToken) else exc)
    where = f"The Bot API at {base_url}" if base_url else "Telegram"
    masked = mask_token(token)
    if reason.startswith("Unauthorized"):
        line = (
            f"{where} refused the bot token {masked} (401 Unauthorized): check "
            "TELEGRAM_BOT_TOKEN against the one BotFather gave you (/mybots, then API Token)."
        )
    elif reason.startswith("Not Found"):
        line = (
            f"{where} answered 404 Not Found for the bot token {masked}: check "
            "TELEGRAM_BOT_TOKEN, and BOT_API_BASE_URL (unset, it is Telegram's own)."
        )
    else:
        # The server's own words, cut short: an error page could be long, or quote the URL.
        # Masked before the cut, so no cut can leave part of the token showing.
        first = redact(reason, [token]).splitlines()[0] if reason else "no reason given"
        line = (
            f"{where} refused the bot token {masked} ({first[:_REASON_LENGTH]}): check "
            "TELEGRAM_BOT_TOKEN and BOT_API_BASE_URL."
        )
    return redact(line, [token])


def schema_problem(state: SchemaState) -> str | None:
    """One line saying why the bot may not run on this database yet, or None if it may."""
    if state.up_to_date:
        return None
    if not state.known:
        return (
            f"The database is at migration {state.current}, which this version of Bump Buddies "
            f"does not know (its latest is {state.latest}): a newer version migrated it, so run "
            "that version (or a newer one)."
        )
    if state.current is None:
        return (
            "The database has no tables yet: run `bumpbuddies db upgrade` first "
            "(or start with `bumpbuddies run --migrate`)."
        )
    return (
        f"The database is at migration {state.current}, not {state.latest}: run "
        "`bumpbuddies db upgrade` first (or start with `bumpbuddies run --migrate`)."
    )
