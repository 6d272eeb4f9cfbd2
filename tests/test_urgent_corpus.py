"""The urgent-message corpus: the right number for ≥ 95% of urgent messages, ≤ 1% false alarms.

Figures are measured on the tuning part and on the held-out part, with the built-in lists alone
(no content loaded) and with the council's sample content on top. The README quotes them; a test
keeps the quote true. `python -m tests.test_urgent_corpus` prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from bot.services.local_info.content import ContentSet
from bot.services.urgent.help import rules_for, who_to_call
from tests.content_support import sample_content

CORPUS = Path(__file__).parent / "urgent_corpus"
README = Path(__file__).resolve().parents[1] / "README.md"
PARTS = ("tune", "holdout")
MIN_RECALL = 0.95
MAX_FALSE_ALARMS = 0.01
# English's reviewed lists always count on her messages too (hazard H13: a draft translation can
# never switch an English phrase off), so an English word she mixes into her language ("koi
# bleeding nahi hui", "meri behen ko bleeding hui thi") can raise an alarm that English's
# negations and "someone else" words, written for English sentences, don't stop. Her language's
# own list is held to English's target; all alarms together, English words included, to this.
MAX_FALSE_ALARMS_WITH_ENGLISH_WORDS = 0.03


def corpus_languages(folder: Path = CORPUS) -> list[str]:
    """Languages with a corpus of their own (tests/urgent_corpus/<lang>/), found as they land."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.isalpha())


def language_parts() -> list[tuple[str, str]]:
    """(language, part) for each part a language's corpus has so far (holdout is written first)."""
    return [
        (language, part)
        for language in corpus_languages()
        for part in PARTS
        if (CORPUS / language / f"{part}_urgent.txt").is_file()
    ]


def _lines(name: str, folder: Path = CORPUS) -> list[str]:
    text = (folder / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def urgent_messages(part: str, folder: Path = CORPUS) -> list[tuple[str, str]]:
    """(category, message) pairs of one part."""
    pairs = [line.split(" | ", 1) for line in _lines(f"{part}_urgent.txt", folder)]
    return [(category.strip(), message.strip()) for category, message in pairs]


def ordinary_messages(part: str, folder: Path = CORPUS) -> list[str]:
    """Everyday messages of one part."""
    return [line.strip() for line in _lines(f"{part}_ordinary.txt", folder)]


@cache
def right_answers() -> dict[str, str]:
    """The fixed table: category → the number its reply must give."""
    table: dict[str, str] = yaml.safe_load((CORPUS / "answers.yaml").read_text(encoding="utf-8"))
    return table


@dataclass(frozen=True)
class Figures:
    """How one part of the corpus fares."""

    answered: int
    urgent: int
    false_alarms: int
    ordinary: int
    missed: tuple[str, ...]
    alarmed: tuple[str, ...]

    @property
    def recall(self) -> float:
        """Share of urgent messages answered with the right number."""
        return self.answered / self.urgent

    @property
    def false_alarm_rate(self) -> float:
        """Share of ordinary messages that got an urgent reply."""
        return self.false_alarms / self.ordinary

    def summary(self) -> str:
        """As the README quotes it."""
        return (
            f"{self.recall:.1%} ({self.answered}/{self.urgent}) right number, "
            f"{self.false_alarm_rate:.1%} ({self.false_alarms}/{self.ordinary}) false alarms"
        )


def measure(content: ContentSet | None, part: str, language: str = "en") -> Figures:
    """Run one part of the corpus (English's, or her language's) through her matcher."""
    folder = CORPUS if language == "en" else CORPUS / language
    rules = rules_for(content, language)
    missed = []
    for category, message in urgent_messages(part, folder):
        calls = who_to_call(rules, rules.groups_in(message), None)
        if right_answers()[category] not in calls.ids:
            missed.append(f"{category}: {message}")
    ordinary = ordinary_messages(part, folder)
    alarmed = [m for m in ordinary if rules.groups_in(m)]
    urgent = len(urgent_messages(part, folder))
    return Figures(
        urgent - len(missed), urgent, len(alarmed), len(ordinary), tuple(missed), tuple(alarmed)
    )


def _no_content() -> ContentSet | None:
    return None


CONTENTS: dict[str, Callable[[], ContentSet | None]] = {
    "built-in lists": _no_content,
    "with the sample content": sample_content,
}


def test_the_corpus_is_big_enough_and_every_category_has_a_right_answer() -> None:
    urgent = [pair for part in PARTS for pair in urgent_messages(part)]
    ordinary = [m for part in PARTS for m in ordinary_messages(part)]

    assert len(urgent) >= 150 and len(ordinary) >= 300
    assert {category for category, _ in urgent} == set(right_answers())
    # A third held out, in every category.
    for category in right_answers():
        held = [c for c, _ in urgent_messages("holdout") if c == category]
        assert held and len(held) * 3 >= len([c for c, _ in urgent if c == category]) - 2
    assert len(ordinary_messages("holdout")) * 3 >= len(ordinary) - 2


def test_the_issue_examples_are_in_the_corpus() -> None:
    messages = {m for part in PARTS for _, m in urgent_messages(part)}

    assert {
        "can't feel the baby kick since yesterday",
        "baby hasn't kicked all day",
        "there is blood when I wipe",
        "contractions every 5 minutes",
        "he hurts me",
        "I want to end it all",
    } <= messages
    assert "my sister's baby is moving house" in {
        m for part in PARTS for m in ordinary_messages(part)
    }


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("content", list(CONTENTS))
def test_urgent_messages_get_the_right_number_and_ordinary_ones_no_alarm(
    part: str, content: str
) -> None:
    figures = measure(CONTENTS[content](), part)
    print(f"{part} ({content}): {figures.summary()}")

    assert figures.recall >= MIN_RECALL, figures.missed
    assert figures.false_alarm_rate <= MAX_FALSE_ALARMS, figures.alarmed


@pytest.mark.parametrize("content", list(CONTENTS))
@pytest.mark.parametrize(("language", "part"), language_parts())
def test_in_her_language_urgent_messages_get_the_right_number_as_in_english(
    language: str, part: str, content: str
) -> None:
    """Each translator's corpus (tests/urgent_corpus/<lang>/), with English's thresholds."""
    loaded = CONTENTS[content]()
    figures = measure(loaded, part, language)
    own = rules_for(loaded, language).own
    by_her_list = [m for m in figures.alarmed if own is not None and own.groups_in(m)]
    print(f"{language} {part} ({content}): {figures.summary()}, {len(by_her_list)} by her list")

    assert figures.recall >= MIN_RECALL, figures.missed
    assert len(by_her_list) <= MAX_FALSE_ALARMS * figures.ordinary, by_her_list
    assert figures.false_alarm_rate <= MAX_FALSE_ALARMS_WITH_ENGLISH_WORDS, figures.alarmed


@pytest.mark.parametrize("language", corpus_languages())
def test_her_language_corpus_has_every_category_and_a_held_out_part(language: str) -> None:
    folder = CORPUS / language
    parts = [part for lang, part in language_parts() if lang == language]
    categories = {c for part in parts for c, _ in urgent_messages(part, folder)}

    assert "holdout" in parts
    assert categories <= set(right_answers())
    assert urgent_messages("holdout", folder) and ordinary_messages("holdout", folder)


def test_the_readme_quotes_the_measured_figures() -> None:
    readme = README.read_text(encoding="utf-8")

    for part in PARTS:
        figures = measure(None, part)
        assert f"| {part} | {figures.summary()} |" in readme, figures.summary()


if __name__ == "__main__":
    for language in ["en", *corpus_languages()]:
        for name, make in CONTENTS.items():
            for part in PARTS:
                figures = measure(make(), part, language)
                print(f"| {language} | {part} | {figures.summary()} | ({name})")
