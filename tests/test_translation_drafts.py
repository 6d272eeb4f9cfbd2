"""Translation drafts (bot/locales/<lang>/LC_MESSAGES/<feature>.po, issue 13; written as TOML and
converted with `bumpbuddies i18n from-toml`) mirror English key for key.

Each draft is marked unreviewed, has every English key and no other, keeps every {placeholder}
and every HTML tag of the English text, renders as Telegram HTML the fake Bot API accepts, has
the plural forms its language needs, and is actually translated.
"""

from __future__ import annotations

import re

import pytest

from bot.i18n import UNREVIEWED_LINE
from bot.sandbox.schema import parse_html
from bot.texts import ENGLISH_ONLY_DOMAINS, domain_files, load_catalogue, placeholders, source

# CLDR plural categories for whole numbers and decimals.
PLURAL_FORMS = {
    "pl": {"one", "few", "many", "other"},
    "ro": {"one", "few", "other"},
    "ur": {"one", "other"},
}
DRAFTS = sorted(PLURAL_FORMS)
FEATURES = sorted(set(domain_files("en")) - ENGLISH_ONLY_DOMAINS)
TELEGRAM_MAX = 4096

_TAG = re.compile(r"<(/?)([a-z-]+)")
_COMMAND = re.compile(r"/[a-z]+\b")
_PLACEHOLDER = re.compile(r"\{\w+\}")

Plural = dict[str, str]


def _messages(language: str, feature: str) -> dict[str, str | Plural]:
    """The feature's messages as the bot reads them, a plural one as its forms and "count"."""
    texts = load_catalogue(language)
    plurals = texts.plurals()
    found: dict[str, str | Plural] = {}
    for key, entry in source().items():
        if entry.domain != feature or key in texts.missing:
            continue
        plural = plurals.get(key)
        found[key] = {"count": plural.count, **plural.forms} if plural else texts.raw(key)
    return found


def _texts(value: str | Plural) -> dict[str, str]:
    """Form → template; a plain message has the one form "text"."""
    if isinstance(value, str):
        return {"text": value}
    return {form: text for form, text in value.items() if form != "count"}


def _model(source: dict[str, str], form: str) -> str:
    """The English template a form translates: a language's extra forms follow "other"."""
    return source.get(form) or source.get("other") or source["text"]


def _tags(template: str) -> list[str]:
    return sorted(f"{slash}{name}" for slash, name in _TAG.findall(template))


def _rendered(template: str) -> str:
    filled = template.format(**{name: "Sam 12" for name in placeholders(template)})
    text, _ = parse_html(filled.strip("\n"))
    return text


def _has_words(template: str) -> bool:
    """Whether a template has words of its own, beyond placeholders, tags and /commands."""
    bare = _COMMAND.sub("", _PLACEHOLDER.sub("", re.sub(r"<[^>]*>", "", template)))
    return re.search(r"[A-Za-z]{2}", bare.replace("Bump Buddies", "")) is not None


@pytest.mark.parametrize("language", DRAFTS)
@pytest.mark.parametrize("feature", FEATURES)
def test_a_draft_is_marked_unreviewed_and_has_exactly_the_english_keys(
    language: str, feature: str
) -> None:
    draft = domain_files(language)[feature].read_text(encoding="utf-8")

    assert UNREVIEWED_LINE in draft
    assert sorted(_messages(language, feature)) == sorted(_messages("en", feature))


@pytest.mark.parametrize("language", DRAFTS)
def test_staff_and_console_texts_are_not_translated(language: str) -> None:
    assert not set(domain_files(language)) & ENGLISH_ONLY_DOMAINS


@pytest.mark.parametrize("language", DRAFTS)
@pytest.mark.parametrize("feature", FEATURES)
def test_plural_messages_have_the_languages_forms_and_count_the_same_parameter(
    language: str, feature: str
) -> None:
    english = _messages("en", feature)
    for key, value in _messages(language, feature).items():
        source = english[key]
        if isinstance(source, str):
            assert isinstance(value, str), key
            continue
        assert isinstance(value, dict), key
        assert value["count"] == source["count"], key
        assert set(value) - {"count"} == PLURAL_FORMS[language], key


@pytest.mark.parametrize("language", DRAFTS)
@pytest.mark.parametrize("feature", FEATURES)
def test_placeholders_and_html_tags_are_the_english_ones(language: str, feature: str) -> None:
    english = _messages("en", feature)
    wrong = []
    for key, value in _messages(language, feature).items():
        source = _texts(english[key])
        for form, template in _texts(value).items():
            # English has "one" and "other"; the other forms of a language follow "other", and
            # a "one" form may leave the count out, as English does ("A new mum-to-be").
            model = _model(source, form)
            used = placeholders(template)
            allowed = placeholders(_model(source, "other")) | placeholders(model)
            expected = placeholders(model) - ({"count"} if form == "one" else set())
            if not expected <= used <= allowed:
                wrong.append(f"{key} ({form}): {sorted(used)} for {sorted(placeholders(model))}")
            if _tags(template) != _tags(model):
                wrong.append(f"{key} ({form}): tags {_tags(template)} for {_tags(model)}")
    assert wrong == []


@pytest.mark.parametrize("language", DRAFTS)
@pytest.mark.parametrize("feature", FEATURES)
def test_every_form_renders_as_telegram_html_within_the_limit(language: str, feature: str) -> None:
    for key, value in _messages(language, feature).items():
        for form, template in _texts(value).items():
            text = _rendered(template)  # raises EntityParseError on invalid HTML
            assert 0 < len(text) <= TELEGRAM_MAX, f"{key} ({form})"


@pytest.mark.parametrize("language", DRAFTS)
@pytest.mark.parametrize("feature", FEATURES)
def test_the_commands_are_the_english_ones(language: str, feature: str) -> None:
    english = _messages("en", feature)
    for key, value in _messages(language, feature).items():
        source = _texts(english[key])
        for form, template in _texts(value).items():
            model = _model(source, form)
            assert sorted(_COMMAND.findall(template)) == sorted(_COMMAND.findall(model)), key


@pytest.mark.parametrize("language", DRAFTS)
@pytest.mark.parametrize("feature", FEATURES)
def test_every_text_with_words_is_translated(language: str, feature: str) -> None:
    english = _messages("en", feature)
    untranslated = []
    for key, value in _messages(language, feature).items():
        source = _texts(english[key])
        for form, template in _texts(value).items():
            model = _model(source, form)
            if _has_words(model) and template.strip() == model.strip():
                untranslated.append(f"{key} ({form})")
    assert untranslated == []


def test_the_word_check_tells_words_from_placeholders_and_commands() -> None:
    assert not _has_words('🔗 <a href="{url}">{title}</a>')
    assert not _has_words("{link} (@{username}) /help")
    assert _has_words("Hello sent 💛")
