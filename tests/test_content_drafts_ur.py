"""The Urdu draft of the council's content (content/ur/) and of the built-in urgent help
(bot/data/urgent_defaults.ur.yaml): every item translated, words only, in Arabic script."""

from __future__ import annotations

import re
from importlib import resources

import yaml

from bot.services.local_info.content import ContentSet
from bot.services.local_info.content_files import untranslated
from bot.services.urgent.defaults import BuiltInUrgentHelp, built_in, built_in_for
from tests.content_support import SAMPLE_FOLDER, sample_content

_ARABIC = re.compile(r"[\u0600-\u06FF]")
_LATIN = re.compile(r"[A-Za-z]")


def _urdu() -> ContentSet:
    return sample_content().for_language("ur")


def _mostly_urdu(text: str, kept: tuple[str, ...] = ()) -> bool:
    """Arabic script outnumbers Latin letters once names kept in English are taken out."""
    for name in kept:
        text = text.replace(name, "")
    return len(_ARABIC.findall(text)) > 2 * len(_LATIN.findall(text))


def test_every_english_content_item_has_an_urdu_translation() -> None:
    report = untranslated(SAMPLE_FOLDER, sample_content())

    assert _urdu().language == "ur"
    assert report.get("ur", []) == []


def test_week_messages_are_in_urdu_and_keep_their_links() -> None:
    english = sample_content().weeks
    for mine, theirs in zip(_urdu().weeks, english, strict=True):
        assert mine.key == theirs.key
        assert _mostly_urdu(mine.title) and _mostly_urdu(mine.text, ("Essex", "GOV.UK")), mine.key
        assert [link.url for link in mine.links] == [link.url for link in theirs.links]
        assert all(_ARABIC.search(link.title) for link in mine.links), mine.key
        # A command stays a command: Telegram routes /services, not its translation.
        assert re.findall(r"/[a-z]+\b", mine.text) == re.findall(r"/[a-z]+\b", theirs.text)


def test_numbers_and_addresses_always_come_from_the_english_files() -> None:
    english, urdu = sample_content(), _urdu()

    assert [(h.id, h.phone, h.url) for h in urdu.helplines] == [
        (h.id, h.phone, h.url) for h in english.helplines
    ]
    assert [(u.phone, u.districts) for u in urdu.triage] == [
        (u.phone, u.districts) for u in english.triage
    ]
    assert [(s.id, s.phone, s.url, s.postcode) for s in urdu.services] == [
        (s.id, s.phone, s.url, s.postcode) for s in english.services
    ]
    assert [(o.phone, o.url) for o in urdu.loss_support] == [
        (o.phone, o.url) for o in english.loss_support
    ]
    assert _mostly_urdu(urdu.loss_message, ("GP",))
    assert all(_ARABIC.search(c.label) for c in urdu.categories)
    # Service names keep the English name she will see on the door, after an Urdu gloss.
    for mine, theirs in zip(urdu.services, english.services, strict=True):
        assert mine.name.endswith(theirs.name) and _ARABIC.search(mine.name), mine.id


def _urdu_defaults_file() -> BuiltInUrgentHelp:
    text = resources.files("bot").joinpath("data/urgent_defaults.ur.yaml").read_text("utf-8")
    return BuiltInUrgentHelp.model_validate(yaml.safe_load(text))


def test_built_in_urgent_help_in_urdu_is_a_draft_with_englishs_ids_numbers_and_calls() -> None:
    urdu, english = built_in_for("ur"), built_in()

    assert urdu is not None and urdu == _urdu_defaults_file()
    assert urdu.reviewed is False
    assert [(h.id, h.phone) for h in urdu.helplines] == [(h.id, h.phone) for h in english.helplines]
    assert urdu.help_shows == english.help_shows
    calls = {g.id: g.call for g in english.groups}
    assert {g.id: g.call for g in urdu.groups} == calls


def test_urdu_urgent_replies_are_in_urdu_and_keep_999() -> None:
    urdu, english = built_in_for("ur"), built_in()
    assert urdu is not None

    by_id = {g.id: g for g in english.groups}
    for group in urdu.groups:
        assert _mostly_urdu(group.message, ("NHS", "National Domestic Abuse Helpline")), group.id
        for number in ("999", "111"):
            assert (number in group.message) == (number in by_id[group.id].message), group.id


def test_urdu_phrases_come_in_urdu_script_and_roman_urdu_for_every_group() -> None:
    urdu = built_in_for("ur")
    assert urdu is not None

    for group in urdu.groups:
        script = [p for p in group.phrases if _ARABIC.search(p)]
        roman = [p for p in group.phrases if not _ARABIC.search(p)]
        assert len(script) >= 5 and len(roman) >= 5, group.id
