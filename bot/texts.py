"""The message catalogue: every resident-facing sentence lives in `bot/locales/<lang>/*.toml`."""

from __future__ import annotations

import datetime as dt
import html
import string
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from typing import Any

DEFAULT_LANGUAGE = "en"


class Html(str):
    """Text that is already safe HTML (built from the catalogue), so it is not escaped again."""

    __slots__ = ()


class Catalogue:
    """The texts of one language, formatted with HTML-escaped parameters."""

    def __init__(self, language: str, messages: dict[str, str]) -> None:
        self.language = language
        self._messages = messages

    def __contains__(self, key: str) -> bool:
        return key in self._messages

    def __iter__(self) -> Iterator[str]:
        return iter(self._messages)

    def keys(self) -> set[str]:
        """Every message key in this catalogue."""
        return set(self._messages)

    def raw(self, key: str) -> str:
        """The template of a message, unformatted."""
        return self._messages[key]

    def __call__(self, key: str, **params: Any) -> Html:
        """The message `key` with `params` filled in; user-supplied strings are escaped."""
        safe = {name: _escape(value) for name, value in params.items()}
        return Html(self._messages[key].format(**safe))


def _escape(value: Any) -> str:
    if isinstance(value, Html):
        return value
    return html.escape(str(value), quote=True)


def placeholders(template: str) -> set[str]:
    """The named fields a template expects."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value).strip("\n")
    return flat


@cache
def available_languages() -> tuple[str, ...]:
    """Languages with a catalogue folder."""
    folder = files("bot.locales")
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.isalpha()))


@cache
def catalogue(language: str | None = None) -> Catalogue:
    """The catalogue for a Telegram language code, falling back to English."""
    code = (language or DEFAULT_LANGUAGE).split("-")[0].lower()
    if code not in available_languages():
        code = DEFAULT_LANGUAGE
    messages: dict[str, str] = {}
    # One file per feature keeps features apart; a key defined twice is a mistake worth failing on.
    for part in sorted(files("bot.locales").joinpath(code).iterdir(), key=lambda p: p.name):
        if not part.name.endswith(".toml"):
            continue
        for key, value in _flatten(tomllib.loads(part.read_text(encoding="utf-8"))).items():
            if key in messages:
                raise ValueError(f"message {key!r} is defined twice in the {code} catalogue")
            messages[key] = value
    return Catalogue(code, messages)


def long_date(value: dt.date) -> str:
    """A date as people write it in the UK: Sunday 14 March 2027."""
    return f"{value:%A} {value.day} {value:%B %Y}"
