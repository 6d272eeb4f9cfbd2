"""Urgent phrases in Arabic script (Urdu) match however the words are typed: with or without
vowel marks, with the Arabic keyboard's letters, a zero-width non-joiner or a tatweel stretch."""

from __future__ import annotations

import pytest

from bot.services.local_info.content import UrgentGroup
from bot.services.urgent.help import Matcher, normalise

BLEEDING = UrgentGroup(id="bleeding", message="m", call=("triage",), phrases=("خون آ رہا",))
MOVEMENTS = UrgentGroup(
    id="reduced_movements", message="m", call=("triage",), phrases=("بچہ حرکت نہیں کر رہا",)
)


def _matcher() -> Matcher:
    return Matcher.build([BLEEDING, MOVEMENTS], ["نہیں", "no"], {})


@pytest.mark.parametrize(
    "typed",
    [
        "خون آ رہا ہے",  # as written
        "خُون آ رَہا ہے",  # with vowel marks
        "خون ا رہا ہے",  # alef without madda
        "خون آ رها هے",  # Arabic keyboard's heh
        "خــون آ رہا ہے",  # tatweel stretch
        "\u200fخون آ رہا ہے\u200f",  # right-to-left marks
    ],
)
def test_an_urdu_phrase_matches_every_way_it_is_typed(typed: str) -> None:
    assert [g.id for g in _matcher().groups_in(typed)] == ["bleeding"]


def test_arabic_keyboard_letters_and_noon_ghunna_are_folded_to_urdus() -> None:
    assert normalise("بچه حركت نهين كر رہا") == normalise("بچہ حرکت نہیں کر رہا")
    assert [g.id for g in _matcher().groups_in("ميرا بچه حركت نهيں كر رہا")] == [
        "reduced_movements"
    ]


def test_a_zero_width_non_joiner_does_not_split_a_word() -> None:
    assert normalise("ہو\u200cگیا") == "ہوگیا"


def test_urdu_and_arabic_digits_are_read_as_digits() -> None:
    assert normalise("۹۹۹ پر فون") == normalise("999 پر فون")
    assert normalise("٩٩٩") == "999"


def test_english_text_is_compared_as_before() -> None:
    assert normalise("My baby’s NOT moving!!") == "my babys not moving"
    assert normalise("naïve café") == "naive cafe"


def test_an_urdu_full_stop_ends_the_sentence_a_negation_belongs_to() -> None:
    matcher = Matcher.build([BLEEDING], ["نہیں"], {})

    assert matcher.groups_in("درد نہیں۔ خون آ رہا ہے") != []
    assert matcher.groups_in("درد نہیں خون آ رہا ہے") == []
