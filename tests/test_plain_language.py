"""Plain language stays plain: the English catalogue residents read is easy to read.

Flesch-Kincaid grade (textstat, which ships its dictionaries and needs no network): the mean over
messages of 12 words or more is at most 6, and no prose message is above grade 9. Lists and
summaries are not sentences, so the formula means nothing for them: the catalogue marks them with
the PO flag `not-prose`, and only those are left out.
"""

from __future__ import annotations

import html
import re
import socket
import statistics

import pytest
import textstat

from bot.texts import ENGLISH_ONLY_DOMAINS, NOT_PROSE, Plural, placeholders, source

MEAN_GRADE_AT_MOST = 6.0
PROSE_GRADE_AT_MOST = 9.0
MIN_WORDS = 12
_TAG = re.compile(r"<[^>]+>")
_ENDS_SENTENCE = ".!?:;…"


def as_read(template: str) -> str:
    """A message as she reads it: short words for the placeholders, no markup, and each line
    its own sentence (a heading on a line of its own ends there, though it has no full stop)."""
    text = template.format(**{name: "Sam" for name in placeholders(template)})
    text = html.unescape(_TAG.sub("", text))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(line if line[-1] in _ENDS_SENTENCE else f"{line}." for line in lines)


def _measured() -> dict[str, tuple[float, bool]]:
    """Grade and whether it is prose, for every resident message of MIN_WORDS words or more."""
    grades = {}
    for key, entry in source().items():
        if entry.domain in ENGLISH_ONLY_DOMAINS:
            continue  # staff and console texts: for staff, not residents
        template = entry.text.forms["other"] if isinstance(entry.text, Plural) else entry.text
        text = as_read(template)
        if len(text.split()) >= MIN_WORDS:
            grades[key] = (textstat.flesch_kincaid_grade(text), NOT_PROSE not in entry.flags)
    return grades


def test_the_english_catalogue_reads_at_grade_6_or_below_on_average() -> None:
    grades = _measured()
    assert len(grades) > 100
    assert statistics.mean(grade for grade, _ in grades.values()) <= MEAN_GRADE_AT_MOST


def test_no_prose_message_is_above_grade_9() -> None:
    hard = {key: round(g, 1) for key, (g, prose) in _measured().items() if prose and g > 9}
    assert hard == {}


def test_lists_are_marked_in_the_catalogue_and_only_lists() -> None:
    marked = {key for key, entry in source().items() if NOT_PROSE in entry.flags}
    assert {"general.help", "summary.details", "privacy.choices"} <= marked
    for key in marked:
        text = source()[key].text
        assert isinstance(text, str) and text.count("\n") >= 3, key


def test_the_measure_works_offline_and_tells_hard_from_plain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the readability library tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    plain = "We only keep your due date. You can delete it at any time. Just send us a message."
    hard = (
        "Notwithstanding contractual obligations, the organisation's administrative "
        "infrastructure necessitates comprehensive documentation regarding individual "
        "circumstances."
    )
    assert textstat.flesch_kincaid_grade(as_read(plain)) < 6
    assert textstat.flesch_kincaid_grade(as_read(hard)) > 9
    assert as_read("<b>Heading</b>\nText") == "Heading. Text."
