"""Urgent help in her language: her words and English's are matched; the reply is in her language.

A small fixture language stands in for the translators' drafts (tests/test_urgent_corpus.py runs
their corpora as they land); `built_in_for` is pointed at it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.services.local_info.content_files import read_content
from bot.services.places.geo import default_gazetteer
from bot.services.urgent import defaults, help
from bot.services.urgent.defaults import BuiltInUrgentHelp
from bot.services.urgent.help import rules_for, who_to_call
from tests import test_urgent_corpus
from tests.content_support import sample_content
from tests.factories import english_content, translate_content

POLISH_BLEEDING = "Krwawienie w ciąży trzeba sprawdzić. Zadzwoń teraz na oddział położniczy."
FIXTURE_DEFAULTS = {
    "helplines": [
        # A draft can reword a helpline, never renumber it: this 112 must never be shown.
        {
            "id": "emergency",
            "name": "Numer alarmowy",
            "phone": "112",
            "note": "w niebezpieczeństwie",
        },
        {"id": "nhs111", "name": "NHS 111", "phone": "111", "note": "pilna pomoc medyczna"},
    ],
    "help_shows": ["emergency", "nhs111"],
    "negations": ["nie", "bez"],
    "spellings": {"bb": "dziecko"},
    "groups": [
        {"id": "bleeding", "message": POLISH_BLEEDING, "call": [], "phrases": ["krwawię", "krew"]},
        {
            "id": "reduced_movements",
            "message": "Zadzwoń teraz na oddział, jeśli dziecko rusza się mniej.",
            "phrases": ["dziecko * nie rusza"],
        },
    ],
}


def fixture_defaults(reviewed: bool = False) -> BuiltInUrgentHelp:
    """A tiny built-in set for Polish, as a translator's urgent_defaults.pl.yaml would be."""
    return BuiltInUrgentHelp.model_validate({**FIXTURE_DEFAULTS, "reviewed": reviewed})


@pytest.fixture
def polish(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Polish built-in urgent help is the fixture (unreviewed); compiled rules start afresh."""
    monkeypatch.setattr(
        help, "built_in_for", lambda code: fixture_defaults() if code == "pl" else None
    )
    help._cache.clear()
    yield
    help._cache.clear()


@pytest.mark.usefixtures("polish")
def test_her_words_and_english_words_are_both_matched() -> None:
    rules = rules_for(None, "pl")

    assert [g.id for g in rules.groups_in("krwawię od rana")] == ["bleeding"]
    assert [g.id for g in rules.groups_in("I'm bleeding")] == ["bleeding"]
    assert [g.id for g in rules.groups_in("bb sie nie rusza od wczoraj")] == ["reduced_movements"]
    assert rules.groups_in("nie krwawię") == []
    # English residents' rules don't change.
    assert rules_for(None, "en").groups_in("krwawię od rana") == []


@pytest.mark.usefixtures("polish")
def test_the_reply_is_in_her_language_with_the_english_wording_while_unreviewed() -> None:
    rules = rules_for(None, "pl")
    english = rules_for(None, "en")

    group = rules.groups_in("I'm bleeding")[0]
    calls = who_to_call(rules, [group], None)

    assert group.message.startswith(POLISH_BLEEDING)
    assert english.groups_in("I'm bleeding")[0].message in group.message
    # English's call list: a translation with an empty one still sends her to triage and 999.
    assert calls.ids == ("triage", "emergency")
    emergency = rules.helpline("emergency")
    assert emergency is not None
    assert (emergency.name, emergency.phone) == ("Numer alarmowy", "999")


def test_a_reviewed_translation_replies_in_her_language_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(help, "built_in_for", lambda code: fixture_defaults(reviewed=True))
    help._cache.clear()
    try:
        group = rules_for(None, "pl").groups_in("krwawię")[0]
    finally:
        help._cache.clear()

    assert group.message == POLISH_BLEEDING


@pytest.mark.usefixtures("polish")
def test_the_councils_phrases_in_her_language_count_and_its_message_is_hers(
    tmp_path: Path,
) -> None:
    folder = english_content(tmp_path)
    translate_content(
        folder,
        "pl",
        {
            "urgent_keywords.yaml": """
                negations: ["nie"]
                groups:
                  - id: waters
                    message: "Odeszły Ci wody? Zadzwoń teraz na oddział."
                    phrases: ["odeszły mi wody"]
                """,
        },
    )
    content = read_content(folder, default_gazetteer())

    found = rules_for(content, "pl").groups_in("chyba odeszły mi wody")

    assert [g.id for g in found] == ["waters"]
    assert found[0].message == "Odeszły Ci wody? Zadzwoń teraz na oddział."
    assert rules_for(content, "en").groups_in("chyba odeszły mi wody") == []


@pytest.mark.usefixtures("polish")
def test_a_small_fixture_corpus_is_measured_with_englishs_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "urgent_corpus"
    (corpus / "pl").mkdir(parents=True)
    shutil.copy(test_urgent_corpus.CORPUS / "answers.yaml", corpus / "answers.yaml")
    (corpus / "pl" / "holdout_urgent.txt").write_text(
        "bleeding | krwawię mocno\nbleeding | there is blood when I wipe\n"
        "reduced_movements | dziecko sie nie rusza\n",
        encoding="utf-8",
    )
    (corpus / "pl" / "holdout_ordinary.txt").write_text(
        "nie krwawię\ndziecko kopie\n", encoding="utf-8"
    )
    monkeypatch.setattr(test_urgent_corpus, "CORPUS", corpus)

    figures = test_urgent_corpus.measure(sample_content(), "holdout", "pl")

    assert test_urgent_corpus.corpus_languages(corpus) == ["pl"]
    assert figures.recall >= test_urgent_corpus.MIN_RECALL, figures.missed
    assert figures.false_alarm_rate <= test_urgent_corpus.MAX_FALSE_ALARMS, figures.alarmed


def test_the_shipped_drafts_are_read_as_drafts() -> None:
    for language in defaults.built_in_languages():
        source = Path(defaults.__file__).parents[2] / "data" / f"urgent_defaults.{language}.yaml"
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        found = defaults.built_in_for(language)
        assert found is not None
        assert found.reviewed is (data.get("reviewed") is True)
