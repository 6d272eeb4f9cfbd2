"""Catalogue files for translators: TOML drafts to PO, the POT templates, a new language's PO.

`bumpbuddies i18n from-toml` turns drafts written as TOML (`bot/locales/<lang>/<feature>.toml`,
key for key like English, `[meta] reviewed = false`) into `bot/locales/<lang>/LC_MESSAGES/
<feature>.po`; `bumpbuddies i18n template` writes `bot/locales/<feature>.pot` from English for
`pybabel update`; `bumpbuddies i18n init` starts a language with CLDR's plural forms.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.texts import (
    COUNT_COMMENT,
    DEFAULT_LANGUAGE,
    ENGLISH_ONLY_DOMAINS,
    PLURAL_FORMS,
    placeholders,
    plural_categories,
    plural_forms_header,
)

LOCALES = Path(__file__).resolve().parent / "locales"
PROJECT = "Bump Buddies"
BRACE_FLAG = "python-brace-format"
# A draft's PO header comment says so; bot/languages.py reads it (Babel keeps header comments
# through `pybabel update`, but drops header fields it does not know).
UNREVIEWED_LINE = "# reviewed: false"
_WIDTH = 100


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str | dict[str, str]]:
    """TOML tables to dotted keys; a plural message stays a table of its forms."""
    flat: dict[str, str | dict[str, str]] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "other" in value and set(value) <= {"count", *PLURAL_FORMS}:
            flat[name] = {form: str(text).strip("\n") for form, text in value.items()}
        elif isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value).strip("\n")
    return flat


def _new_catalog(language: str | None, domain: str, comment: str) -> Catalog:
    catalog = Catalog(
        locale=language,
        domain=domain,
        header_comment=comment,
        project=PROJECT,
        version="1",
        copyright_holder="the council",
        fuzzy=False,
    )
    if language is not None:
        # CLDR's categories (Babel's plural rules), which may differ from Babel's older gettext
        # table (Polish: one, few, many and other for fractions).
        headers = [(k, v) for k, v in catalog.mime_headers if k != "Plural-Forms"]
        catalog.mime_headers = [*headers, ("Plural-Forms", plural_forms_header(language))]
    return catalog


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=_WIDTH, sort_output=False, omit_header=False)


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def english_domains(locales: Path = LOCALES) -> dict[str, Catalog]:
    """The English PO files, by domain."""
    folder = locales / DEFAULT_LANGUAGE / "LC_MESSAGES"
    return {path.stem: _read(path, DEFAULT_LANGUAGE) for path in sorted(folder.glob("*.po"))}


def english_from_toml(locales: Path = LOCALES) -> list[Path]:
    """English TOML files to the English PO source (msgid = the text, msgstr empty)."""
    written = []
    for toml_path in sorted((locales / DEFAULT_LANGUAGE).glob("*.toml")):
        domain = toml_path.stem
        catalog = _new_catalog(DEFAULT_LANGUAGE, domain, f"# {PROJECT}: {domain} (English source)")
        for key, value in _flatten(tomllib.loads(toml_path.read_text(encoding="utf-8"))).items():
            if isinstance(value, dict):
                forms = (value["one"], value["other"])
                flags = [BRACE_FLAG]
                catalog.add(
                    forms,
                    ("", ""),
                    context=key,
                    auto_comments=[f"{COUNT_COMMENT}{value['count']}"],
                    flags=flags,
                )
            else:
                catalog.add(
                    value, "", context=key, flags=[BRACE_FLAG] if placeholders(value) else []
                )
        path = locales / DEFAULT_LANGUAGE / "LC_MESSAGES" / f"{domain}.po"
        _write(catalog, path)
        written.append(path)
    return written


def translation_from_toml(language: str, locales: Path = LOCALES) -> tuple[list[Path], list[str]]:
    """A language's TOML drafts to PO, against the English source. Returns the files written and
    the keys that had no translation (left empty, so the completeness test names them)."""
    written: list[Path] = []
    gaps: list[str] = []
    drafts = {p.stem: p for p in sorted((locales / language).glob("*.toml"))}
    if not drafts:
        raise FileNotFoundError(f"no TOML drafts in {locales / language}")
    reviewed = True
    flat: dict[str, str | dict[str, str]] = {}
    for path in drafts.values():
        table = tomllib.loads(path.read_text(encoding="utf-8"))
        meta = table.pop("meta", {})
        reviewed = reviewed and bool(meta.get("reviewed", False))
        flat.update(_flatten(table))
    for domain, english in english_domains(locales).items():
        if domain in ENGLISH_ONLY_DOMAINS:
            continue
        catalog = _translation_catalog(language, domain, english, reviewed)
        for message in english:
            if not message.id or message.context is None:
                continue
            value = flat.get(message.context)
            string = _string(language, message.id, value)
            if not all(string if isinstance(string, tuple) else (string,)):
                gaps.append(message.context)
            catalog.add(
                message.id,
                string,
                context=message.context,
                auto_comments=list(message.auto_comments),
                flags=list(message.flags),
            )
        path = locales / language / "LC_MESSAGES" / f"{domain}.po"
        _write(catalog, path)
        written.append(path)
    return written, gaps


def _translation_catalog(language: str, domain: str, english: Catalog, reviewed: bool) -> Catalog:
    comment = f"# {PROJECT}: {domain}, {language}"
    if not reviewed:
        comment += f"\n{UNREVIEWED_LINE}"
    return _new_catalog(language, domain, comment)


def _string(
    language: str, english: str | tuple[str, ...] | list[str], value: str | dict[str, str] | None
) -> str | tuple[str, ...]:
    if isinstance(english, tuple | list):
        forms: dict[str, str] = value if isinstance(value, dict) else {}
        return tuple(forms.get(category, "") for category in plural_categories(language))
    return value if isinstance(value, str) else ""


def init_language(language: str, locales: Path = LOCALES) -> list[Path]:
    """Empty PO files for a new language, one per translatable domain, marked unreviewed."""
    written = []
    for domain, english in english_domains(locales).items():
        path = locales / language / "LC_MESSAGES" / f"{domain}.po"
        if domain in ENGLISH_ONLY_DOMAINS or path.exists():
            continue
        catalog = _translation_catalog(language, domain, english, reviewed=False)
        for message in english:
            if message.id and message.context is not None:
                catalog.add(
                    message.id,
                    _string(language, message.id, None),
                    context=message.context,
                    auto_comments=list(message.auto_comments),
                    flags=list(message.flags),
                )
        _write(catalog, path)
        written.append(path)
    return written


def write_templates(locales: Path = LOCALES) -> list[Path]:
    """The POT file of every translatable domain, from English: what `pybabel update` reads."""
    written = []
    for domain, english in english_domains(locales).items():
        if domain in ENGLISH_ONLY_DOMAINS:
            continue
        template = _new_catalog(None, domain, f"# Translations template for {PROJECT}: {domain}")
        for message in english:
            if message.id and message.context is not None:
                template.add(
                    message.id,
                    context=message.context,
                    auto_comments=list(message.auto_comments),
                    flags=list(message.flags),
                )
        path = locales / f"{domain}.pot"
        _write(template, path)
        written.append(path)
    return written


def toml_languages(locales: Path = LOCALES) -> Iterable[str]:
    """Languages that still have TOML drafts."""
    return sorted(p.parent.name for p in locales.glob("*/*.toml"))
