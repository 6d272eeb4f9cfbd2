"""Which languages the bot offers, and which one each resident gets (bot/languages.py)."""

from __future__ import annotations

import pytest

from bot import languages
from bot.config import Settings, SettingsError
from bot.languages import language_for, offered_languages
from tests.harness import settings_for_test


def _settings(languages_setting: str, *, allow_unreviewed: bool = False) -> Settings:
    return settings_for_test(
        "1:x",
        "sqlite+aiosqlite://",
        languages=languages_setting,
        allow_unreviewed_languages=allow_unreviewed,
    )


@pytest.fixture
def drafts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polish and Urdu catalogues exist; Urdu's is still a draft."""
    monkeypatch.setattr(languages, "has_catalogue", lambda code: code in {"en", "pl", "ur"})
    monkeypatch.setattr(languages, "is_reviewed", lambda code: code != "ur")


def test_english_is_offered_by_default_and_always_first() -> None:
    assert offered_languages(_settings("")) == ("en",)


def test_a_language_without_a_catalogue_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"LANGUAGES.*'xx'"):
        offered_languages(_settings("en,xx"))


@pytest.mark.usefixtures("drafts")
def test_an_unreviewed_language_is_refused_unless_allowed() -> None:
    with pytest.raises(SettingsError, match="'ur' is not reviewed"):
        offered_languages(_settings("en,ur"))

    allowed = _settings("pl, UR,pl", allow_unreviewed=True)
    assert offered_languages(allowed) == ("en", "pl", "ur")


@pytest.mark.usefixtures("drafts")
def test_she_gets_her_language_when_offered_and_english_otherwise() -> None:
    settings = _settings("pl")

    assert language_for("pl", settings) == "pl"
    assert language_for("pl-PL", settings) == "pl"
    assert language_for("ur", settings) == "en"
    assert language_for("de", settings) == "en"
    assert language_for(None, settings) == "en"


def test_the_shipped_english_catalogue_counts_as_reviewed() -> None:
    assert languages.is_reviewed("en")
    assert languages.has_catalogue("en")
