"""Every language's catalogue is complete, keeps English's placeholders, renders as valid Telegram
HTML within Telegram's limits and is really translated (Urdu in Arabic script).

The checks run over every language in bot/locales, and over made-up catalogues too: a copy of
English, a gap, a lost placeholder, broken HTML, Urdu in Latin letters. So they mean something
while English is the only language, and a pseudo-translation shows they pass a real one.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from bot.sandbox.schema import MAX_TEXT_LENGTH, parse_html
from bot.texts import (
    DEFAULT_LANGUAGE,
    ENGLISH_ONLY_DOMAINS,
    SAME_IN_EVERY_LANGUAGE,
    Catalogue,
    Html,
    Plural,
    available_languages,
    catalogue,
    domain_files,
    load_catalogue,
    placeholders,
    plural_categories,
    source,
)

# Telegram: at most 100 formatting entities in one message.
MAX_ENTITIES = 100
# Names stay names in every language.
NAMES = (
    "Bump Buddies",
    "Office for National Statistics",
    "Telegram",
    "WhatsApp",
    "NHS",
    "OS",
    "CSV",
    "Royal Mail",
    "mySociety",
)
_PLACEHOLDER = re.compile(r"\{\w+\}")
_TAG = re.compile(r"<[^>]+>")
# A command and what is typed after it (/cohort AREA_CODE FIRST_MONTH, /report comments) stay.
_COMMAND = re.compile(r"/[a-z_]+(?:\s+(?:[A-Z][A-Z0-9_]*_[A-Z0-9_]+|off|comments)\b)*")
_URL = re.compile(r"https?://\S+")
_ENTITY = re.compile(r"&\w+;")


def translations() -> list[str]:
    """Every language with a catalogue besides English."""
    return [code for code in available_languages() if code != DEFAULT_LANGUAGE]


def _forms(texts: Catalogue, key: str) -> dict[str, str]:
    plural = texts.plurals().get(key)
    return dict(plural.forms) if plural else {"": texts.raw(key)}


def _words(template: str) -> str:
    """What is left to translate: no placeholders, markup, commands, links, names or numbers."""
    text = _ENTITY.sub(" ", _URL.sub(" ", _COMMAND.sub(" ", _TAG.sub(" ", template))))
    text = _PLACEHOLDER.sub(" ", text)
    for name in NAMES:
        text = text.replace(name, " ")
    letters = [ch if unicodedata.category(ch).startswith("L") else " " for ch in text]
    return " ".join("".join(letters).split()).lower()


def missing(texts: Catalogue, english: Catalogue) -> list[str]:
    """Messages the language lacks (they would be shown in English)."""
    return sorted(texts.missing | (english.keys() - texts.keys()))


def placeholder_mismatches(texts: Catalogue, english: Catalogue) -> list[str]:
    """Templates whose {placeholders} differ from English's, form by form."""
    found = []
    for key in sorted(english.keys()):
        theirs, ours = _forms(texts, key), _forms(english, key)
        for form, template in theirs.items():
            wanted = placeholders(ours.get(form, english.raw(key)))
            if placeholders(template) != wanted:
                found.append(f"{key} {form}".strip())
    return found


def _filled(template: str) -> Html:
    # Parameters are escaped when filled in, so a hostile value cannot break the markup.
    values = {name: "<x> & y" for name in placeholders(template)}
    return Catalogue("xx", {"t": template})("t", **values)


def html_problems(texts: Catalogue) -> list[str]:
    """Templates Telegram would refuse once filled in: bad HTML, too long, too many entities."""
    found = []
    for key in sorted(texts.keys()):
        for form, template in _forms(texts, key).items():
            try:
                plain, entities = parse_html(_filled(template))
            except Exception as exc:
                found.append(f"{key} {form}: {exc}")
                continue
            if len(plain.encode("utf-16-le")) // 2 > MAX_TEXT_LENGTH:
                found.append(f"{key} {form}: longer than {MAX_TEXT_LENGTH}")
            if len(entities) > MAX_ENTITIES:
                found.append(f"{key} {form}: more than {MAX_ENTITIES} entities")
    return found


def _translatable() -> set[str]:
    """Messages a translation must change: not staff texts, not those English marks as the
    same in every language (a file name)."""
    return {
        key
        for key, entry in source().items()
        if entry.domain not in ENGLISH_ONLY_DOMAINS and SAME_IN_EVERY_LANGUAGE not in entry.flags
    }


def untranslated(texts: Catalogue, english: Catalogue) -> list[str]:
    """Messages that read the same as English once names and numbers are set aside."""
    found = []
    translatable = _translatable()
    for key in sorted(translatable & texts.keys()):
        for form, template in _forms(texts, key).items():
            ours = _words(_forms(english, key).get(form, english.raw(key)))
            if ours and _words(template) == ours:
                found.append(f"{key} {form}".strip())
    return found


def _script_share(text: str, script: str) -> float:
    letters = [ch for ch in _words(text) if ch.isalpha()]
    if not letters:
        return 1.0
    return sum(script in unicodedata.name(ch, "") for ch in letters) / len(letters)


def wrong_script(texts: Catalogue, script: str) -> list[str]:
    """Messages not written mostly in the language's script (Urdu: Arabic)."""
    translatable = _translatable()
    return [
        f"{key} {form}".strip()
        for key in sorted(translatable & texts.keys())
        for form, template in _forms(texts, key).items()
        if _script_share(template, script) < 0.8
    ]


# Languages whose script is not Latin, by the word in their letters' Unicode names.
SCRIPTS = {"ur": "ARABIC"}


# --- The languages in bot/locales ------------------------------------------------------------


def test_every_language_has_every_message() -> None:
    english = catalogue("en")
    for language in translations():
        assert missing(load_catalogue(language), english) == [], language


def test_every_language_keeps_englishs_placeholders_exactly() -> None:
    english = catalogue("en")
    for language in [DEFAULT_LANGUAGE, *translations()]:
        assert placeholder_mismatches(load_catalogue(language), english) == [], language


def test_every_message_in_every_language_is_telegram_html_within_telegrams_limits() -> None:
    for language in [DEFAULT_LANGUAGE, *translations()]:
        assert html_problems(load_catalogue(language)) == [], language


def test_every_language_is_really_translated() -> None:
    english = catalogue("en")
    for language in translations():
        assert untranslated(load_catalogue(language), english) == [], language


def test_languages_with_their_own_script_are_written_in_it() -> None:
    for language in translations():
        if language in SCRIPTS:
            assert wrong_script(load_catalogue(language), SCRIPTS[language]) == [], language


def test_staff_and_console_texts_are_english_only() -> None:
    assert set(domain_files(DEFAULT_LANGUAGE)) >= ENGLISH_ONLY_DOMAINS
    translatable = set(domain_files(DEFAULT_LANGUAGE)) - ENGLISH_ONLY_DOMAINS
    for language in translations():
        assert set(domain_files(language)) == translatable, language
        staff_key = next(k for k, e in source().items() if e.domain == "staff")
        assert load_catalogue(language).raw(staff_key) == catalogue("en").raw(staff_key)


def test_every_po_file_numbers_its_plural_forms_by_cldr() -> None:
    for language in [DEFAULT_LANGUAGE, *translations()]:
        for domain, path in domain_files(language).items():
            with path.open("rb") as handle:
                po = read_po(handle, locale=language)
            assert po.num_plurals == len(plural_categories(language)), (language, domain)


# --- The checks themselves, on made-up catalogues --------------------------------------------


def _copy(language: str, change: dict[str, str] | None = None) -> Catalogue:
    english = catalogue("en")
    messages = {k: english.raw(k) for k in english.keys() - english.plurals().keys()}
    messages.update(change or {})
    return Catalogue(language, messages, english.plurals())


_PSEUDO_LATIN = str.maketrans("aeiouAEIOUcsnz", "áéíóúÁÉÍÓÚčšňž")
_PSEUDO_ARABIC = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "ابپتٹثجچحخدڈذرڑزژسشصضطظعغفابپتٹثجچحخدڈذرڑزژسشصضطظعغف",
)
_KEEP = re.compile(r"(<[^>]+>|\{\w+\}|/[a-z_]+|https?://\S+|&\w+;|" + "|".join(NAMES) + ")")


def _pseudo(template: str, table: dict[int, int]) -> str:
    """A pseudo-translation: every word changed, markup, placeholders and names kept."""
    parts = _KEEP.split(template)
    return "".join(part if _KEEP.fullmatch(part) else part.translate(table) for part in parts)


def _pseudo_catalogue(language: str, table: dict[int, int]) -> Catalogue:
    english = catalogue("en")
    plurals = {
        key: Plural(p.count, {f: _pseudo(t, table) for f, t in p.forms.items()})
        for key, p in english.plurals().items()
    }
    messages = {
        k: _pseudo(english.raw(k), table) for k in english.keys() - english.plurals().keys()
    }
    return Catalogue(language, messages, plurals)


def test_a_pseudo_translation_passes_every_check() -> None:
    english = catalogue("en")
    for texts in (_pseudo_catalogue("pl", _PSEUDO_LATIN), _pseudo_catalogue("ur", _PSEUDO_ARABIC)):
        assert missing(texts, english) == []
        assert placeholder_mismatches(texts, english) == []
        assert html_problems(texts) == []
    urdu = _pseudo_catalogue("ur", _PSEUDO_ARABIC)
    assert wrong_script(urdu, "ARABIC") == []
    # Messages of names, numbers and commands only need no translation.
    assert untranslated(urdu, english) == []


def test_a_copy_of_english_is_found_untranslated() -> None:
    english = catalogue("en")
    copied = untranslated(_copy("pl"), english)
    assert "welcome.new" in copied
    assert len(copied) > 300


def test_urdu_in_latin_letters_is_found() -> None:
    assert "welcome.new" in wrong_script(_copy("ur"), "ARABIC")


def test_a_gap_a_lost_placeholder_and_broken_html_are_found() -> None:
    english = catalogue("en")
    gap = Catalogue("pl", {}, {}, missing=frozenset({"welcome.new"}))
    assert "welcome.new" in missing(gap, english)

    lost = _copy("pl", {"welcome.new": "Cześć, witamy w <b>Bump Buddies</b>"})
    assert placeholder_mismatches(lost, english) == ["welcome.new"]

    broken = _copy("pl", {"due.saved": "Dziękuję – <b>{due}</i>.", "area.saved": "a < b"})
    assert [p.split(" ")[0] for p in html_problems(broken)] == ["area.saved", "due.saved"]

    long = _copy("pl", {"due.saved": "słowo " * 1000})
    assert html_problems(long) == [f"due.saved : longer than {MAX_TEXT_LENGTH}"]


def test_a_plural_with_its_forms_in_cldr_order_is_read_by_cldr_rules() -> None:
    assert plural_categories("pl") == ("one", "few", "many", "other")
    assert plural_categories("ro") == ("one", "few", "other")
    assert plural_categories("ur") == ("one", "other")
    assert set(plural_categories("en")) == set(Locale.parse("en").plural_form.tags) | {"other"}


@pytest.mark.parametrize("language", ["pl", "ro", "ur"])
def test_counts_reach_every_plural_form_of_the_language(language: str) -> None:
    forms = {c: f"{{count}} {c}" for c in plural_categories(language)}
    texts = Catalogue(language, {}, {"n": Plural("count", forms)})
    shown = {texts("n", count=n).split(" ")[1] for n in (1, 2, 5, 22, 25, 101, "1.5")}
    assert shown == set(plural_categories(language))
