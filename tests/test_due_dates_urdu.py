"""Due dates and yes/no typed in Urdu, in Urdu script or Roman Urdu, as the Urdu catalogue asks
for them ("20 ہفتے", "مئی 2027", "ہاں")."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.services.conversations.answers import read_plain_yes_no as read_consent_answer
from bot.services.conversations.answers import read_yes_no
from bot.services.residents.due_dates import DueDate, NotKnownYet, parse_due_date
from bot.texts import load_catalogue

TODAY = dt.date(2026, 12, 5)
_EXAMPLE = re.compile(r"<i>([^<]+)</i>")


def _examples(key: str) -> list[str]:
    return _EXAMPLE.findall(load_catalogue("ur").raw(key))


@pytest.mark.parametrize(
    ("typed", "english"),
    [
        ("مئی 2027", "May 2027"),
        ("14 مارچ 2027", "14 March 2027"),
        ("20 ہفتے", "20 weeks"),
        ("۲۰ ہفتے", "20 weeks"),
        ("20 hafte", "20 weeks"),
        ("20 ہفتے کی حاملہ ہوں", "20 weeks pregnant"),
        ("20 ہفتے اور 3 دن", "20 weeks and 3 days"),
        ("5 مہینے", "5 months"),
        ("5 mahine", "5 months"),
        ("20 ہفتوں میں", "in 20 weeks"),
        ("20 hafton mein", "in 20 weeks"),
        ("10 ہفتے باقی", "10 weeks left"),
    ],
)
def test_an_urdu_answer_means_what_the_english_one_does(typed: str, english: str) -> None:
    assert parse_due_date(typed, TODAY) == parse_due_date(english, TODAY)


@pytest.mark.parametrize(
    "typed", ["مجھے ابھی معلوم نہیں", "معلوم نہیں", "pata nahi", "abhi maloom nahi"]
)
def test_not_knowing_yet_in_urdu(typed: str) -> None:
    assert parse_due_date(typed, TODAY) == NotKnownYet()


def test_the_yes_and_no_the_urdu_catalogue_asks_for_are_understood() -> None:
    yes, no = _examples("due.confirm_not_understood")

    assert read_yes_no(yes) is True and read_yes_no(no) is False
    for typed in ("جی ہاں", "haan", "ji haan"):
        assert read_yes_no(typed) is True and read_consent_answer(typed) is True, typed
    for typed in ("نہیں", "nahi"):
        assert read_yes_no(typed) is False and read_consent_answer(typed) is False, typed


def test_urdu_and_arabic_indic_digits_are_read_as_digits() -> None:
    # Urdu keyboards type ۱۴ (and Arabic ones ١٤) for 14; each is the same date.
    for typed in ("\u06f1\u06f4/03/2027", "\u0661\u0664/03/2027"):
        assert parse_due_date(typed, TODAY) == parse_due_date("14/03/2027", TODAY)


def test_an_urdu_word_that_is_no_answer_stays_no_answer() -> None:
    assert read_yes_no("جی") is None
    assert read_consent_answer("شاید") is None
    assert not isinstance(parse_due_date("بہت جلد", TODAY), DueDate)
