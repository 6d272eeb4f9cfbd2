"""The message catalogue: every resident-facing sentence, in gettext PO files read with Babel.

`bot/locales/<lang>/LC_MESSAGES/<feature>.po`, one domain per feature. Each message's msgctxt is
its key ("welcome.new"), its msgid the English text and its msgstr the translation; English is
the source, so its msgstrs are empty (gettext then shows the msgid, as `pybabel compile` would).
A message whose wording follows a number has a msgid_plural and one msgstr per CLDR plural
category of the language (Babel's plural rules); which parameter counts is said by an extracted
comment `#. count: <name>` in English. `bumpbuddies i18n template` writes the POT files a
translator or agency starts from; see the README.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from babel.plural import to_gettext

from bot.languages import served

DEFAULT_LANGUAGE = "en"
# CLDR's plural categories in CLDR's order, which is also the order of a PO file's msgstr[n]
# (babel.plural.to_gettext numbers them so).
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")
# Staff and console texts stay in English (issue 13): these domains exist only in English.
ENGLISH_ONLY_DOMAINS = frozenset({"staff", "console"})
# The marker on a message that is a list or summary rather than prose: readability formulas
# measure sentences, so the plain-language test leaves these out.
NOT_PROSE = "not-prose"
# The marker on a message that stays the same in every language (a file name).
SAME_IN_EVERY_LANGUAGE = "same-in-every-language"
COUNT_COMMENT = "count: "


class Html(str):
    """Text that is already safe HTML (built from the catalogue), so it is not escaped again."""

    __slots__ = ()


@dataclass(frozen=True)
class Plural:
    """A message whose wording follows a number, e.g. "1 message" and "2 messages": the
    parameter that counts, and one template per CLDR plural category of the language."""

    count: str
    forms: dict[str, str]


@dataclass(frozen=True)
class Entry:
    """One message of the English source: its domain (feature), template and PO flags."""

    domain: str
    text: str | Plural
    flags: frozenset[str] = field(default_factory=frozenset)


@cache
def plural_categories(language: str) -> tuple[str, ...]:
    """The language's CLDR plural categories, in PO msgstr order ("other" always last)."""
    tags = Locale.parse(language).plural_form.tags | {"other"}
    return tuple(tag for tag in PLURAL_FORMS if tag in tags)


def plural_forms_header(language: str) -> str:
    """The PO `Plural-Forms` header that numbers msgstr[n] by CLDR's categories."""
    return to_gettext(Locale.parse(language).plural_form)


def _as_number(language: str, count: object) -> decimal.Decimal | int | None:
    """A count as it is shown ("1", "1,024", "0.5") as a number with its visible decimals."""
    if isinstance(count, bool):
        return int(count)
    if isinstance(count, int | decimal.Decimal):
        return count
    shown = str(count).strip()
    try:
        return parse_decimal(shown, locale=language)
    except NumberFormatError:
        pass
    try:
        return decimal.Decimal(shown.replace(",", ""))
    except decimal.InvalidOperation:
        return None


def plural_form(language: str, count: object) -> str:
    """The CLDR plural category of a count as it is shown: "1.0 miles" is not "one" in English
    (a visible decimal), and Polish says "2 tygodnie" (few) but "5 tygodni" (many)."""
    number = _as_number(language, count)
    # Not a number at all (never from the bot's own code): the general form.
    return "other" if number is None else str(Locale.parse(language).plural_form(number))


class Catalogue:
    """The texts of one language, formatted with HTML-escaped parameters."""

    def __init__(
        self,
        language: str,
        messages: dict[str, str],
        plurals: dict[str, Plural] | None = None,
        missing: frozenset[str] = frozenset(),
    ) -> None:
        self.language = language
        self._messages = messages
        self._plurals = plurals or {}
        # Keys this language has no (reviewed or draft) translation of: shown in English.
        self.missing = missing

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

    def date(self, value: dt.date) -> str:
        """A date written out in her language: Sunday 14 March 2027, niedziela 14 marca 2027."""
        return long_date(value, self.language)

    def month(self, value: dt.date) -> str:
        """A month and year on their own: March 2027, marzec 2027."""
        return format_date(value, "LLLL y", locale=_babel_locale(self.language))

    def month_name(self, value: dt.date) -> str:
        """The month's name as it follows "the middle of": March, marca."""
        return format_date(value, "MMMM", locale=_babel_locale(self.language))

    def number(self, value: float | int | decimal.Decimal) -> str:
        """A number as her language writes it: 1,024 in English, 1 024 in Polish."""
        return format_decimal(value, locale=_babel_locale(self.language))


def _escape(value: Any) -> str:
    if isinstance(value, Html):
        return value
    return html.escape(str(value), quote=True)


def _babel_locale(language: str) -> str:
    # English dates as people write them in the UK (en_GB), where the bot runs.
    return "en_GB" if language == DEFAULT_LANGUAGE else language


def long_date(value: dt.date, language: str = DEFAULT_LANGUAGE) -> str:
    """A date written out: Sunday 14 March 2027 (staff texts use English)."""
    return format_date(value, "EEEE d MMMM y", locale=_babel_locale(language))


def placeholders(template: str) -> set[str]:
    """The named fields a template expects."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def locale_folder() -> Traversable:
    """Where the PO files are: bot/locales/<lang>/LC_MESSAGES/<domain>.po."""
    return files("bot.locales")


@cache
def available_languages() -> tuple[str, ...]:
    """Languages with a PO catalogue."""
    return tuple(
        sorted(
            path.name
            for path in locale_folder().iterdir()
            if path.is_dir()
            and path.name.isalpha()
            and path.joinpath("LC_MESSAGES").is_dir()
            and any(p.name.endswith(".po") for p in path.joinpath("LC_MESSAGES").iterdir())
        )
    )


def domain_files(language: str) -> dict[str, Traversable]:
    """The PO file of each domain (feature) of a language."""
    folder = locale_folder().joinpath(language, "LC_MESSAGES")
    if not folder.is_dir():
        return {}
    return {
        path.name.removesuffix(".po"): path
        for path in sorted(folder.iterdir(), key=lambda p: p.name)
        if path.name.endswith(".po")
    }


@cache
def read_domain(language: str, domain: str) -> Catalog:
    """One PO file, parsed by Babel."""
    with domain_files(language)[domain].open("rb") as handle:
        return read_po(handle, locale=language, domain=domain)


def _count_parameter(comments: list[str], key: str) -> str:
    for comment in comments:
        if comment.startswith(COUNT_COMMENT):
            return comment.removeprefix(COUNT_COMMENT).strip()
    raise ValueError(f"plural message {key!r} has no '#. {COUNT_COMMENT}<parameter>' comment")


@cache
def source() -> dict[str, Entry]:
    """The English catalogue, key by key: the messages every other language translates."""
    entries: dict[str, Entry] = {}
    for domain in domain_files(DEFAULT_LANGUAGE):
        for message in read_domain(DEFAULT_LANGUAGE, domain):
            key = message.context
            if not message.id or key is None:
                continue  # the header
            if key in entries:
                # One file per feature keeps features apart; a key twice is a mistake.
                raise ValueError(f"message {key!r} is defined twice in the English catalogue")
            text: str | Plural
            if isinstance(message.id, tuple | list):
                count = _count_parameter(list(message.auto_comments), key)
                text = Plural(count, {"one": message.id[0], "other": message.id[1]})
            else:
                text = message.id
            entries[key] = Entry(domain, text, frozenset(message.flags))
    return entries


def _translation(language: str, entry: Entry, message: Any) -> str | Plural | None:
    """The translated template of one message, or None if it is missing or fuzzy."""
    if message is None or message.fuzzy:
        return None
    if isinstance(entry.text, Plural):
        strings = message.string if isinstance(message.string, tuple | list) else ()
        categories = plural_categories(language)
        if len(strings) != len(categories) or not all(strings):
            return None
        return Plural(entry.text.count, dict(zip(categories, strings, strict=True)))
    if isinstance(message.string, tuple | list) or not message.string:
        return None
    return str(message.string)


def catalogue(language: str | None = None) -> Catalogue:
    """The catalogue for a language code ("pl", "pl-PL"), falling back to English.

    Which language she gets is bot/languages.py's decision: only a language this process
    serves (LANGUAGES, checked at start-up; a draft only with ALLOW_UNREVIEWED_LANGUAGES), so a
    draft or a language taken out of LANGUAGES is never served by accident. `load_catalogue`
    reads any catalogue as written.
    """
    return load_catalogue(served(language))


@cache
def load_catalogue(code: str) -> Catalogue:
    """The catalogue in `bot/locales/<code>/` as written, reviewed or draft; English for a
    message it lacks (listed in `missing`)."""
    if code not in available_languages():
        code = DEFAULT_LANGUAGE
    messages: dict[str, str] = {}
    plurals: dict[str, Plural] = {}
    missing: set[str] = set()
    translations = {
        domain: read_domain(code, domain)
        for domain in domain_files(code)
        if code != DEFAULT_LANGUAGE and domain not in ENGLISH_ONLY_DOMAINS
    }
    for key, entry in source().items():
        text: str | Plural = entry.text
        if code != DEFAULT_LANGUAGE and entry.domain not in ENGLISH_ONLY_DOMAINS:
            po = translations.get(entry.domain)
            english = entry.text.forms["one"] if isinstance(entry.text, Plural) else entry.text
            # Looked up by key and English wording, as gettext does: a translation of wording
            # English has since changed is stale (pybabel update marks it fuzzy) and not used.
            found = po.get(english, context=key) if po is not None else None
            translated = _translation(code, entry, found)
            if translated is None:
                # A draft's gap (or a message changed in English since) reads in English rather
                # than failing; the completeness test keeps offered languages free of gaps.
                missing.add(key)
            else:
                text = translated
        if isinstance(text, Plural):
            plurals[key] = text
        else:
            messages[key] = text
    return Catalogue(code, messages, plurals, frozenset(missing))
