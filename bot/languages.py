"""Which languages the bot offers, and which one a resident gets: the one place that decides.

`LANGUAGES` lists what the council offers (English always). A language whose catalogue is still
a draft (`reviewed = false`) is refused at start-up unless `ALLOW_UNREVIEWED_LANGUAGES=true`, as
SAMPLE content is: residents must not get unreviewed wording by accident.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from bot.config import Settings, SettingsError

ENGLISH = "en"
_CODE = re.compile(r"^[a-z]{2,3}$")
# A draft says so in its catalogue metadata: TOML `reviewed = false`, or in a PO file the header
# comment line `# reviewed: false` (bot/i18n.py; Babel keeps header comments through `pybabel
# update` but drops header fields it does not know) or a header `X-Reviewed: false`.
_UNREVIEWED = re.compile(
    r"^\s*(?:#\s*)?(?:reviewed\s*[=:]\s*false|\"?X-Reviewed:\s*false)", re.I | re.M
)


# Each language's name in English (staff pages are English) and in itself (for her to choose).
NAMES = {"en": "English", "pl": "Polish", "ro": "Romanian", "ur": "Urdu"}
OWN_NAMES = {"en": "English", "pl": "Polski", "ro": "Română", "ur": "اردو"}


def language_name(code: str) -> str:
    """A language's name as staff read it: "Polish" (its code when we don't know it)."""
    return NAMES.get(code, code)


def _code(text: str | None) -> str:
    """ "pl-PL" and "PL" are both Polish: the language part, lower-case."""
    return (text or "").strip().split("-")[0].split("_")[0].lower()


@cache
def has_catalogue(language: str) -> bool:
    """Whether the bot has a message catalogue for this language."""
    folder = files("bot.locales").joinpath(language)
    return folder.is_dir()


@cache
def is_reviewed(language: str) -> bool:
    """Whether the language's catalogue has been reviewed (English is the source: always)."""
    if language == ENGLISH:
        return True
    folder = files("bot.locales").joinpath(language)
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.is_file() and path.name.endswith((".toml", ".po")):
            if _UNREVIEWED.search(path.read_text(encoding="utf-8")):
                return False
        elif path.is_dir():
            for inner in path.iterdir():
                if inner.name.endswith(".po") and _UNREVIEWED.search(
                    inner.read_text(encoding="utf-8")
                ):
                    return False
    return True


def offered_languages(settings: Settings) -> tuple[str, ...]:
    """The languages residents can use, English first; raises SettingsError for one we can't
    offer (no catalogue, or unreviewed without ALLOW_UNREVIEWED_LANGUAGES)."""
    offered = [ENGLISH]
    for part in settings.languages.split(","):
        code = _code(part)
        if not code or code in offered:
            continue
        if not _CODE.match(code) or not has_catalogue(code):
            raise SettingsError(f"Invalid setting LANGUAGES: no catalogue for '{code}'")
        if not is_reviewed(code) and not settings.allow_unreviewed_languages:
            raise SettingsError(
                f"Invalid setting LANGUAGES: '{code}' is not reviewed yet (set "
                "ALLOW_UNREVIEWED_LANGUAGES=true to try it out)"
            )
        offered.append(code)
    return tuple(offered)


# What this process serves (set at start-up by `serve`): catalogue() reads a resident's stored
# language_code through it, so a language taken out of LANGUAGES is not served any more.
_served: tuple[str, ...] = (ENGLISH,)


def serve(settings: Settings) -> tuple[str, ...]:
    """At start-up: the offered languages become the ones this process serves."""
    global _served
    _served = offered_languages(settings)
    return _served


def served_languages() -> tuple[str, ...]:
    """The languages this process serves, English first (only English until `serve`)."""
    return _served


def served(code: str | None) -> str:
    """A language code (hers, stored or from Telegram) as the language she gets here."""
    wanted = _code(code)
    return wanted if wanted in _served else ENGLISH


# How each language names itself, for the one-tap switch ("Polski · Română · اردو · English").
NATIVE_NAMES = {"en": "English", "pl": "Polski", "ro": "Română", "ur": "اردو"}


def native_name(code: str) -> str:
    """The language's name in that language."""
    return NATIVE_NAMES.get(code, code)


def language_for(code: str | None, settings: Settings) -> str:
    """The language a resident gets: her language when it is offered, otherwise English."""
    wanted = _code(code)
    try:
        offered = offered_languages(settings)
    except SettingsError:
        # Start-up already refused these settings; anything else running with them gets English.
        return ENGLISH
    return wanted if wanted in offered else ENGLISH
