"""Taking contact details out of free text before anyone at the council reads it."""

from __future__ import annotations

import re

PHONE = "[phone number removed]"
EMAIL = "[email removed]"
POSTCODE = "[postcode removed]"
HANDLE = "[username removed]"

_EMAIL = re.compile(
    r"[\w.+%-]+\s*(?:@|\(at\)|\[at\])\s*[\w-]+(?:\s*(?:\.|\(dot\)|\[dot\])\s*[\w-]+)+", re.I
)
# Full UK postcodes, with or without the space (Royal Mail's letter rules, loosened a little so
# that a typo still gets caught); lower case too, as people type them.
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKPSTUW]?\s*[0-9][ABD-HJLNP-UW-Z]{2}(?![A-Za-z0-9])",
    re.I,
)
# A run of digits with the separators people put in phone numbers; checked for length below.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().-]{7,}\d(?!\w)")
# Telegram and other social handles: another way to contact someone.
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")
_PHONE_DIGITS = range(10, 14)


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return PHONE if digits in _PHONE_DIGITS else match.group()


def redact(text: str) -> str:
    """The text with phone numbers, email addresses, postcodes and @usernames replaced."""
    text = _EMAIL.sub(EMAIL, text)
    text = _POSTCODE.sub(POSTCODE, text)
    text = _PHONE.sub(_phone, text)
    return _HANDLE.sub(HANDLE, text)
