"""Typed answers to a Yes/No question: the one reader every prompt with Yes/No buttons uses.

Wherever the bot shows Yes/No buttons, "yes", "Yes please", "y", "yeah", "no", "No thanks.",
"n" (any case, trailing punctuation), the Urdu "ہاں" / "نہیں", the Polish "tak" / "nie" and the
Romanian "da" / "nu" work exactly like the buttons. Two strengths:

- read_plain_yes_no: only a plain yes or no. For consent, erasure, reports, introductions and
  staff confirmations, where an answer must be unmistakable ("ok" or "sure" is not consent).
- read_yes_no: also "that's right", "ok", "wrong"... for "is that right?" (a due date read back).
"""

from __future__ import annotations

import re

from bot.services.residents.due_dates import from_urdu
from bot.services.residents.polish_romanian import from_polish_or_romanian

# Nothing legitimate is longer; refusing early keeps regex work bounded on pasted essays.
MAX_TEXT_LENGTH = 64

_FLAGS = re.ASCII | re.VERBOSE
_TRAILING = ".!,;: "

_PLAIN_YES = re.compile(r"(?:yes|y|yeah|yea|yep|yup|yes\s+please)", _FLAGS)
_PLAIN_NO = re.compile(r"(?:no|n|nope|nah|no\s+thanks|no\s+thank\s+you)", _FLAGS)
_YES = re.compile(
    r"(?:ye|yes\s+it\s+is|correct|right|that'?s\s+right|that'?s\s+correct|ok|okay|sure"
    r"|spot\s+on)",
    _FLAGS,
)
_NO = re.compile(
    r"(?:no\s+it'?s\s+not|wrong|not\s+right|incorrect|that'?s\s+wrong)",
    _FLAGS,
)
# A thumbs up or a tick, as people answer "is that right?" on a phone.
_YES_EMOJI = ("\U0001f44d", "\u2705")


def _clean(text: object) -> str | None:
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        return None
    # Urdu, Polish and Romanian yes and no become "yes" and "no": their catalogues ask for them.
    cleaned = from_urdu(" ".join(text.replace("\u2019", "'").split()).lower())
    return from_polish_or_romanian(cleaned).rstrip(_TRAILING)


def read_plain_yes_no(text: object) -> bool | None:
    """A plain typed yes (True) or no (False); None for anything else."""
    cleaned = _clean(text)
    if cleaned is None:
        return None
    if _PLAIN_YES.fullmatch(cleaned):
        return True
    if _PLAIN_NO.fullmatch(cleaned):
        return False
    return None


def read_yes_no(text: object) -> bool | None:
    """A typed answer to "is that right?": a plain yes or no, or words that say it is (not)."""
    plain = read_plain_yes_no(text)
    if plain is not None:
        return plain
    cleaned = _clean(text)
    if cleaned is None:
        return None
    if cleaned in _YES_EMOJI or _YES.fullmatch(cleaned):
        return True
    if _NO.fullmatch(cleaned):
        return False
    return None
