"""The shipped Polish and Romanian content drafts (content/pl/, content/ro/, issue 13).

Each loads with no problem, translates every English week message, category, service time,
helpline, triage line and support organisation it mirrors, changes words only (numbers and web
addresses are the English file's), and is actually in its language.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

from bot.services.local_info.content import ContentSet
from bot.services.local_info.content_files import read_content
from bot.services.places.geo import default_gazetteer

CONTENT = Path(__file__).resolve().parents[1] / "content"
DRAFTS = ("pl", "ro")
FILES = (
    "weeks.yaml",
    "urgent_help.yaml",
    "urgent_keywords.yaml",
    "support.yaml",
    "categories.yaml",
)


@cache
def shipped() -> ContentSet:
    return read_content(CONTENT, default_gazetteer())


def _yaml(language: str, name: str) -> dict[str, object]:
    folder = CONTENT if language == "en" else CONTENT / language
    data: dict[str, object] = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("language", DRAFTS)
def test_a_draft_has_every_file_and_is_sample_content(language: str) -> None:
    for name in FILES:
        assert _yaml(language, name)["sample"] is True, name


@pytest.mark.parametrize("language", DRAFTS)
def test_every_week_category_helpline_and_organisation_is_translated(language: str) -> None:
    english, translated = shipped(), shipped().for_language(language)

    assert translated.language == language
    for ours, theirs in zip(translated.weeks, english.weeks, strict=True):
        assert ours.key == theirs.key
        assert ours.title != theirs.title and ours.text != theirs.text, ours.key
        assert [link.url for link in ours.links] == [link.url for link in theirs.links]
        assert all(a.title != b.title for a, b in zip(ours.links, theirs.links, strict=True))
    for ours_c, theirs_c in zip(translated.categories, english.categories, strict=True):
        assert ours_c.code == theirs_c.code and ours_c.label != theirs_c.label
    assert [(h.id, h.phone) for h in translated.helplines] == [
        (h.id, h.phone) for h in english.helplines
    ]
    assert all(
        a.note != b.note for a, b in zip(translated.helplines, english.helplines, strict=True)
    )
    assert [u.phone for u in translated.triage] == [u.phone for u in english.triage]
    assert all(a.name != b.name for a, b in zip(translated.triage, english.triage, strict=True))
    # Services keep their names, places and numbers; only when they run is in her language.
    assert [(s.id, s.name, s.phone, s.url) for s in translated.services] == [
        (s.id, s.name, s.phone, s.url) for s in english.services
    ]
    assert all(a.when != b.when for a, b in zip(translated.services, english.services, strict=True))
    assert translated.loss_message != english.loss_message
    assert [(o.name, o.phone, o.url) for o in translated.loss_support] == [
        (o.name, o.phone, o.url) for o in english.loss_support
    ]


@pytest.mark.parametrize("language", DRAFTS)
def test_the_draft_files_have_the_english_structure_and_ids(language: str) -> None:
    for name, section, key in (
        ("categories.yaml", "categories", "code"),
        ("urgent_help.yaml", "helplines", "id"),
        ("urgent_help.yaml", "maternity_triage", "phone"),
    ):
        ours, theirs = _yaml(language, name)[section], _yaml("en", name)[section]
        assert isinstance(ours, list) and isinstance(theirs, list)
        assert [e[key] for e in ours] == [e[key] for e in theirs], name
    ours_groups = _yaml(language, "urgent_keywords.yaml")["groups"]
    theirs_groups = _yaml("en", "urgent_keywords.yaml")["groups"]
    assert isinstance(ours_groups, list) and isinstance(theirs_groups, list)
    assert [g["id"] for g in ours_groups] == [g["id"] for g in theirs_groups]
