"""Due dates and yes/no typed in Polish and Romanian, as their catalogues ask for them
("maj 2027", "20 tygodni", "tak"; "mai 2027", "20 de săptămâni", "da"), with or without the
letters' accents, as people type on a phone with an English keyboard."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.services.conversations.answers import read_plain_yes_no, read_yes_no
from bot.services.residents.due_dates import DueDate, NotKnownYet, parse_due_date
from bot.texts import load_catalogue

TODAY = dt.date(2026, 12, 5)
_EXAMPLE = re.compile(r"<i>([^<]+)</i>")
_DUE_KEYS = ["due.ask", "due.unrecognised", "due.not_text", "due.past", "due.weeks_out_of_range"]


def _examples(language: str, key: str) -> list[str]:
    return _EXAMPLE.findall(load_catalogue(language).raw(key))


# Urdu's examples too: every draft catalogue's due-date examples are held to the same rule.
@pytest.mark.parametrize("language", ["pl", "ro", "ur"])
@pytest.mark.parametrize("key", _DUE_KEYS)
def test_every_example_the_catalogue_gives_is_understood(language: str, key: str) -> None:
    examples = _examples(language, key)

    assert examples
    for example in examples:
        assert isinstance(parse_due_date(example, TODAY), DueDate), example


@pytest.mark.parametrize(
    ("typed", "english"),
    [
        ("maj 2027", "May 2027"),
        ("Maj 2027", "May 2027"),
        ("w maju", "in May"),
        ("14 marca 2027", "14 March 2027"),
        ("14 października", "14 October"),
        ("14 pazdziernika", "14 October"),
        ("20 tygodni", "20 weeks"),
        ("20 tydzień", "20 weeks"),
        ("20 tyg.", "20 weeks"),
        ("20 tygodni i 3 dni", "20 weeks and 3 days"),
        ("20 tygodni ciąży", "20 weeks pregnant"),
        ("20 tygodni w ciąży", "20 weeks pregnant"),
        ("5 miesięcy", "5 months"),
        ("5 miesiecy", "5 months"),
        ("za 20 tygodni", "in 20 weeks"),
        ("za 5 miesięcy", "in 5 months"),
        ("około 20 tygodni", "about 20 weeks"),
        ("mai 2027", "May 2027"),
        ("14 martie 2027", "14 March 2027"),
        ("20 de săptămâni", "20 weeks"),
        ("20 de saptamani", "20 weeks"),
        ("20 săptămâni și 3 zile", "20 weeks and 3 days"),
        ("20 de săptămâni de sarcină", "20 weeks pregnant"),
        ("5 luni", "5 months"),
        ("peste 20 de săptămâni", "in 20 weeks"),
        ("peste 5 luni", "in 5 months"),
        ("în ianuarie", "in January"),
    ],
)
def test_a_polish_or_romanian_answer_means_what_the_english_one_does(
    typed: str, english: str
) -> None:
    assert parse_due_date(typed, TODAY) == parse_due_date(english, TODAY), typed


@pytest.mark.parametrize(
    "typed", ["nie wiem", "jeszcze nie wiem", "Nie wiem jeszcze", "nu știu", "nu stiu încă"]
)
def test_not_knowing_yet_in_polish_or_romanian(typed: str) -> None:
    assert parse_due_date(typed, TODAY) == NotKnownYet()


@pytest.mark.parametrize("language", ["pl", "ro"])
def test_the_yes_and_no_the_catalogue_asks_for_are_understood(language: str) -> None:
    yes, no = _examples(language, "due.confirm_not_understood")

    assert read_yes_no(yes) is True and read_yes_no(no) is False
    assert read_plain_yes_no(yes) is True and read_plain_yes_no(no) is False


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("Tak", True),
        ("tak, proszę", True),
        ("Tak poproszę!", True),
        ("Nie", False),
        ("nie, dziękuję", False),
        ("nie dziekuje", False),
        ("Da", True),
        ("da, vă rog", True),
        ("Nu", False),
        ("nu, mulțumesc", False),
        ("nu multumesc", False),
    ],
)
def test_a_plain_polish_or_romanian_yes_or_no_works_like_the_buttons(
    typed: str, meant: bool
) -> None:
    assert read_plain_yes_no(typed) is meant
    assert read_yes_no(typed) is meant


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("zgadza się", True), ("Tak, zgadza się", True), ("nie zgadza się", False), ("corect", True)],
)
def test_is_that_right_answered_in_polish_or_romanian(typed: str, meant: bool) -> None:
    assert read_yes_no(typed) is meant


@pytest.mark.parametrize("typed", ["zgadza się", "nie wiem", "nu știu", "taki", "dar", "nuta"])
def test_words_that_are_no_plain_answer_stay_no_answer(typed: str) -> None:
    # Consent takes only a plain yes or no: "that's right" or "I don't know" is not consent.
    assert read_plain_yes_no(typed) is None
