"""The message catalogue: every resident-facing sentence lives in `bot/locales/<lang>/*.toml`."""

from __future__ import annotations

import datetime as dt
import html
import string
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from bot.languages import is_reviewed

DEFAULT_LANGUAGE = "en"
# CLDR's plural categories; English uses "one" and "other" (gettext's singular and plural).
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")


class Html(str):
    """Text that is already safe HTML (built from the catalogue), so it is not escaped again."""

    __slots__ = ()


@dataclass(frozen=True)
class Plural:
    """A message whose wording follows a number, e.g. "1 message" and "2 messages".

    In a catalogue file it is a table naming the parameter that counts, and one template per
    plural form: `stopped.count = "stopped"`, `stopped.one = "…"`, `stopped.other = "…"`.
    """

    count: str
    forms: dict[str, str]


def plural_form(language: str, count: object) -> str:
    """The plural form for a count as it is shown ("1", "1,024", "0.5"), by CLDR's rules.

    English (the only language so far): "one" for exactly 1 with no decimals, else "other".
    """
    shown = str(count).replace(",", "").strip()
    return "one" if shown == "1" else "other"


class Catalogue:
    """The texts of one language, formatted with HTML-escaped parameters."""

    def __init__(
        self, language: str, messages: dict[str, str], plurals: dict[str, Plural] | None = None
    ) -> None:
        self.language = language
        self._messages = messages
        self._plurals = plurals or {}

    def __contains__(self, key: str) -> bool:
        return key in self._messages or key in self._plurals

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> set[str]:
        """Every message key in this catalogue (a plural message counts once)."""
        return set(self._messages) | set(self._plurals)

    def plurals(self) -> dict[str, Plural]:
        """The messages whose wording follows a number."""
        return dict(self._plurals)

    def raw(self, key: str) -> str:
        """The template of a message, unformatted (for a plural message, its "other" form)."""
        plural = self._plurals.get(key)
        return plural.forms["other"] if plural else self._messages[key]

    def __call__(self, key: str, **params: Any) -> Html:
        """The message `key` with `params` filled in; user-supplied strings are escaped."""
        safe = {name: _escape(value) for name, value in params.items()}
        plural = self._plurals.get(key)
        if plural is None:
            return Html(self._messages[key].format(**safe))
        form = plural_form(self.language, params[plural.count])
        return Html(plural.forms.get(form, plural.forms["other"]).format(**safe))


def _escape(value: Any) -> str:
    if isinstance(value, Html):
        return value
    return html.escape(str(value), quote=True)


def placeholders(template: str) -> set[str]:
    """The named fields a template expects."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def _is_plural(value: dict[str, Any]) -> bool:
    return "count" in value and "other" in value and set(value) <= {"count", *PLURAL_FORMS}


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str | Plural]:
    flat: dict[str, str | Plural] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and _is_plural(value):
            forms = {form: str(text).strip("\n") for form, text in value.items() if form != "count"}
            flat[name] = Plural(str(value["count"]), forms)
        elif isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value).strip("\n")
    return flat


@cache
def available_languages() -> tuple[str, ...]:
    """Languages with a reviewed catalogue folder.

    A translator's draft (`[meta] reviewed = false`) is never served by accident: until it is
    reviewed, a resident whose Telegram uses that language gets English.
    """
    folder = files("bot.locales")
    return tuple(
        sorted(
            p.name
            for p in folder.iterdir()
            if p.is_dir() and p.name.isalpha() and is_reviewed(p.name)
        )
    )


@cache
def catalogue(language: str | None = None) -> Catalogue:
    """The catalogue for a Telegram language code, falling back to English."""
    code = (language or DEFAULT_LANGUAGE).split("-")[0].lower()
    if code not in available_languages():
        code = DEFAULT_LANGUAGE
    return load_catalogue(code)


def load_catalogue(code: str) -> Catalogue:
    """The catalogue in `bot/locales/<code>/` as written, reviewed or draft (no fallback)."""
    messages: dict[str, str] = {}
    plurals: dict[str, Plural] = {}
    # One file per feature keeps features apart; a key defined twice is a mistake worth failing on.
    for part in sorted(files("bot.locales").joinpath(code).iterdir(), key=lambda p: p.name):
        if not part.name.endswith(".toml"):
            continue
        table = tomllib.loads(part.read_text(encoding="utf-8"))
        # [meta] describes the file (reviewed or draft); it is not a message.
        table.pop("meta", None)
        for key, value in _flatten(table).items():
            if key in messages or key in plurals:
                raise ValueError(f"message {key!r} is defined twice in the {code} catalogue")
            if isinstance(value, Plural):
                plurals[key] = value
            else:
                messages[key] = value
    return Catalogue(code, messages, plurals)


def long_date(value: dt.date) -> str:
    """A date as people write it in the UK: Sunday 14 March 2027."""
    return f"{value:%A} {value.day} {value:%B %Y}"
