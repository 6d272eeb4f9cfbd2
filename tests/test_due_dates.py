"""Due dates typed UK style, or worked out from weeks pregnant."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.conversations.answers import read_yes_no
from bot.services.residents import due_dates
from bot.services.residents.due_dates import (
    MAX_WEEKS_AHEAD,
    DueDate,
    DueDateProblem,
    NotKnownYet,
    gestation,
    months_as_days,
    parse_due_date,
)

TODAY = dt.date(2026, 10, 1)
MID_MARCH = dt.date(2027, 3, 14)


def _date(text: str, today: dt.date = TODAY) -> dt.date:
    result = parse_due_date(text, today)
    assert isinstance(result, DueDate), (text, result)
    assert not result.from_weeks
    return result.value


@pytest.mark.parametrize(
    "text",
    [
        "14/03/2027",
        "14/3/2027",
        "14-3-27",
        "14.03.2027",
        "14 March 2027",
        "14th March 2027",
        "14th of March 2027",
        "the 14th of March",
        "14 march 2027",
        "14 MARCH 2027",
        "March 14th",
        "March 14, 2027",
        "Mar 14 2027",
        "14 Mar",
        "14 Mar 27",
        "14-Mar-2027",
        "14/3",
        "2027-03-14",
        "2027/03/14",
        "  14 March 2027.  ",
        "due 14 March 2027",
        "My due date is 14/03/2027",
    ],
)
def test_accepted_date_forms_give_the_date(text: str) -> None:
    assert _date(text) == MID_MARCH


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2027-03-04", dt.date(2027, 3, 4)), ("2027-01-02", dt.date(2027, 1, 2))],
)
def test_iso_date_is_year_first(text: str, expected: dt.date) -> None:
    assert _date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04/03/2027", dt.date(2027, 3, 4)),
        ("01/02/27", dt.date(2027, 2, 1)),
        ("5.1.2027", dt.date(2027, 1, 5)),
        ("12-01-2027", dt.date(2027, 1, 12)),
        ("2/1", dt.date(2027, 1, 2)),
    ],
)
def test_numeric_dates_are_day_first(text: str, expected: dt.date) -> None:
    assert _date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("03/14/2027", MID_MARCH), ("1/31/27", dt.date(2027, 1, 31))]
)
def test_month_first_is_read_only_when_it_is_the_one_real_date(
    text: str, expected: dt.date
) -> None:
    assert _date(text) == expected


def test_two_digit_years_are_this_century() -> None:
    assert _date("14/03/27") == MID_MARCH
    assert _date("14 March '27") == MID_MARCH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14 Mar", dt.date(2027, 3, 14)),
        ("25 December", dt.date(2026, 12, 25)),
        ("1 October", TODAY),  # today still counts
        ("1/10", TODAY),
    ],
)
def test_date_without_a_year_is_the_next_occurrence(text: str, expected: dt.date) -> None:
    assert _date(text) == expected


def test_date_without_a_year_that_has_just_gone_is_past() -> None:
    # The next 30 September is a year off; she meant yesterday.
    assert parse_due_date("30 September", TODAY) == DueDateProblem("past")


def test_29_february_without_a_year_finds_the_next_leap_year() -> None:
    assert _date("29 Feb", dt.date(2027, 6, 1)) == dt.date(2028, 2, 29)


@pytest.mark.parametrize(
    ("text", "weeks", "days"),
    [
        ("I'm 20 weeks", 20, 0),
        ("I\u2019m 20 weeks", 20, 0),
        ("im 20 weeks", 20, 0),
        ("I am 20 weeks pregnant", 20, 0),
        ("20 weeks", 20, 0),
        ("20 Weeks", 20, 0),
        ("20 wks", 20, 0),
        ("20w", 20, 0),
        ("20 weeks pregnant", 20, 0),
        ("20+3", 20, 3),
        ("20 + 3", 20, 3),
        ("20+3 weeks", 20, 3),
        ("20 weeks and 3 days", 20, 3),
        ("20 weeks, 3 days", 20, 3),
        ("20 weeks 3 days pregnant", 20, 3),
        ("20w3d", 20, 3),
        ("20w 3d", 20, 3),
        ("1 week", 1, 0),
        ("0 weeks", 0, 0),
        ("39+6", 39, 6),
        ("20", 20, 0),
        ("about 20 weeks", 20, 0),
        ("around 20 weeks pregnant", 20, 0),
        ("roughly 20+3", 20, 3),
        ("~20 wks", 20, 0),
    ],
)
def test_pregnancy_weeks_are_converted_to_a_due_date(text: str, weeks: int, days: int) -> None:
    result = parse_due_date(text, TODAY)
    expected = TODAY + dt.timedelta(days=280 - (weeks * 7 + days))
    assert result == DueDate(expected, "weeks_pregnant", weeks)
    assert result.from_weeks
    assert gestation(expected, TODAY) == (weeks, days)


def test_overdue_weeks_are_accepted_though_the_due_date_has_passed() -> None:
    result = parse_due_date("41+2", TODAY)
    assert result == DueDate(TODAY - dt.timedelta(days=9), "weeks_pregnant", 41)


@pytest.mark.parametrize("text", ["43 weeks", "100 weeks", "20+7", "20 weeks and 9 days", "42+10"])
def test_weeks_outside_a_pregnancy_are_refused(text: str) -> None:
    assert parse_due_date(text, TODAY) == DueDateProblem("weeks_out_of_range")


@pytest.mark.parametrize("text", ["30/09/2026", "2026-09-30", "1 January 2020", "14/03/2025"])
def test_due_date_in_the_past_is_refused(text: str) -> None:
    assert parse_due_date(text, TODAY) == DueDateProblem("past")


def test_due_date_today_is_accepted() -> None:
    assert _date("01/10/2026") == TODAY


def test_due_date_more_than_42_weeks_ahead_is_refused() -> None:
    limit = TODAY + dt.timedelta(weeks=MAX_WEEKS_AHEAD)
    assert _date(limit.isoformat()) == limit
    too_far = limit + dt.timedelta(days=1)
    assert parse_due_date(too_far.isoformat(), TODAY) == DueDateProblem("too_far")
    assert parse_due_date("1/1/2030", TODAY) == DueDateProblem("too_far")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "soon",
        "next tuesday-ish",
        "x" * 4000,
        "14 March 2027 " * 300,
        "\U0001f930",
        "\U0001f476 14/03/2027",
        "I had 3 cats in 2027",
        "14 cats 2027",
        "2027",
        "20.5",
        "I'm 20",
        "31/02/2027",
        "13/13/2027",
        "2027-02-30",
        "14/03/2027/01",
        "14 Marchh 2027",
    ],
)
def test_anything_else_is_unrecognised(text: str) -> None:
    assert parse_due_date(text, TODAY) == DueDateProblem("unrecognised")


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (TODAY, (40, 0)),
        (TODAY + dt.timedelta(days=280), (0, 0)),
        (TODAY + dt.timedelta(days=137), (20, 3)),
        (TODAY + dt.timedelta(days=400), (0, 0)),  # clamped, never negative
        (TODAY - dt.timedelta(days=9), (41, 2)),
    ],
)
def test_gestation_counts_back_from_a_280_day_pregnancy(
    due: dt.date, expected: tuple[int, int]
) -> None:
    assert gestation(due, TODAY) == expected


@given(st.integers(0, 42), st.integers(0, 6), st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)))
def test_weeks_and_gestation_round_trip(weeks: int, days: int, today: dt.date) -> None:
    result = parse_due_date(f"{weeks}+{days}", today)
    assert isinstance(result, DueDate)
    assert gestation(result.value, today) == (weeks, days)


@given(
    st.integers(0, MAX_WEEKS_AHEAD * 7),
    st.sampled_from(["%d/%m/%Y", "%d %B %Y", "%Y-%m-%d", "%b %d %Y"]),
)
def test_any_date_in_range_written_out_is_read_back(offset: int, pattern: str) -> None:
    due = TODAY + dt.timedelta(days=offset)
    assert parse_due_date(due.strftime(pattern), TODAY) == DueDate(due, "date")


@settings(max_examples=200)
@given(st.text(max_size=80), st.dates())
def test_parsing_any_text_never_raises(text: str, today: dt.date) -> None:
    result = parse_due_date(text, today)
    assert isinstance(result, DueDate | DueDateProblem | NotKnownYet)


@given(
    st.from_regex(r"[0-9]{1,4}[-/. ][0-9a-z]{1,9}([-/. ][0-9]{1,4})?", fullmatch=True),
    st.dates(),
)
def test_parsing_date_shaped_text_never_raises(text: str, today: dt.date) -> None:
    result = parse_due_date(text, today)
    assert isinstance(result, DueDate | DueDateProblem | NotKnownYet)


@given(st.dates(), st.dates())
def test_gestation_never_raises_or_goes_negative(due: dt.date, today: dt.date) -> None:
    weeks, days = gestation(due, today)
    assert weeks >= 0 and 0 <= days <= 6


def test_due_dates_service_does_not_touch_telegram() -> None:
    tree = ast.parse(Path(due_dates.__file__).read_text(encoding="utf-8"))
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(m.split(".")[0] == "telegram" for m in modules)


@pytest.mark.parametrize(
    "text",
    [
        "in 20 weeks",
        "in about 20 weeks",
        "in 20 weeks' time",
        "20 weeks to go",
        "20 weeks left",
        "due in 20 weeks",
    ],
)
def test_weeks_to_go_count_forward_from_today(text: str) -> None:
    assert parse_due_date(text, TODAY) == DueDate(TODAY + dt.timedelta(weeks=20), "weeks_to_go", 20)


def test_weeks_to_go_beyond_a_pregnancy_are_refused() -> None:
    assert parse_due_date("in 43 weeks", TODAY) == DueDateProblem("weeks_out_of_range")


@pytest.mark.parametrize(
    "text", ["5 months", "about 5 months", "5 months pregnant", "I'm 5 months", "5 month"]
)
def test_months_pregnant_count_back_from_a_280_day_pregnancy(text: str) -> None:
    expected = TODAY + dt.timedelta(days=280 - 152)
    assert months_as_days(5) == 152
    assert parse_due_date(text, TODAY) == DueDate(expected, "months_pregnant", 5)


@pytest.mark.parametrize("text", ["in 5 months", "5 months to go", "in about 5 months"])
def test_months_to_go_are_calendar_months_from_today(text: str) -> None:
    assert parse_due_date(text, TODAY) == DueDate(dt.date(2027, 3, 1), "months_to_go", 5)


@pytest.mark.parametrize("text", ["10 months", "in 12 months", "15 months pregnant"])
def test_months_outside_a_pregnancy_are_refused(text: str) -> None:
    assert parse_due_date(text, TODAY) == DueDateProblem("months_out_of_range")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("May 2027", dt.date(2027, 5, 15)),
        ("may 2027", dt.date(2027, 5, 15)),
        ("due in May", dt.date(2027, 5, 15)),
        ("I'm due in May", dt.date(2027, 5, 15)),
        ("my baby's due in June 2027", dt.date(2027, 6, 15)),
        ("March", dt.date(2027, 3, 15)),
        ("in December", dt.date(2026, 12, 15)),
        # Her month has begun and its middle has gone: today, not next year.
        ("October", TODAY if TODAY.day > 15 else dt.date(2026, 10, 15)),
    ],
)
def test_a_month_alone_is_the_middle_of_that_month(text: str, expected: dt.date) -> None:
    result = parse_due_date(text, TODAY)
    assert result == DueDate(expected, "month")


def test_a_month_and_a_number_is_a_day_not_a_year() -> None:
    assert parse_due_date("May 27", TODAY) == DueDate(dt.date(2027, 5, 27), "date")


def test_a_month_already_gone_by_with_its_year_is_past() -> None:
    assert parse_due_date("August 2026", TODAY) == DueDateProblem("past")
    assert parse_due_date("May 2028", TODAY) == DueDateProblem("too_far")


@pytest.mark.parametrize(
    "text",
    [
        "I don't know yet",
        "i dont know",
        "don't know",
        "Not sure",
        "not sure yet",
        "I'm not sure",
        "no idea",
        "idk",
        "dunno",
        "not yet",
        "I don't know my due date yet",
        "waiting for my scan",
        "unknown",
    ],
)
def test_not_knowing_yet_is_understood(text: str) -> None:
    assert parse_due_date(text, TODAY) == NotKnownYet()


@pytest.mark.parametrize(
    ("text", "read_as", "meant"),
    [
        # Day first gives 5 December 2027, beyond 42 weeks; 12 May is in range.
        ("5/12/2027", dt.date(2027, 12, 5), dt.date(2027, 5, 12)),
        # Day first gives 12 October 2027 (the next one): beyond 42 weeks; 10 December isn't.
        ("12/10", dt.date(2027, 10, 12), dt.date(2026, 12, 10)),
        ("01/11/2026", dt.date(2026, 11, 1), None),
    ],
)
def test_a_day_first_reading_out_of_range_offers_the_other_reading(
    text: str, read_as: dt.date, meant: dt.date | None
) -> None:
    today = dt.date(2026, 11, 30)
    result = parse_due_date(text, today)
    if meant is None:
        # Both readings (1 November, 11 January) are past: she is told how it was read.
        assert result == DueDateProblem("past", read_as=read_as)
    else:
        assert result == DueDate(meant, "date", read_as=read_as)


@given(st.integers(1, 12), st.integers(1, 12), st.dates(dt.date(2001, 1, 1), dt.date(2098, 1, 1)))
def test_a_swapped_reading_is_only_offered_when_it_is_in_range(
    day: int, month: int, today: dt.date
) -> None:
    result = parse_due_date(f"{day}/{month}/{today.year + 1}", today)
    if isinstance(result, DueDate) and result.read_as is not None:
        assert today <= result.value <= today + dt.timedelta(weeks=MAX_WEEKS_AHEAD)
        assert (result.value.day, result.value.month) == (month, day)
        assert not today <= result.read_as <= today + dt.timedelta(weeks=MAX_WEEKS_AHEAD)


@given(st.integers(0, 42), st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)))
def test_weeks_pregnant_and_weeks_to_go_add_up_to_forty(weeks: int, today: dt.date) -> None:
    pregnant = parse_due_date(f"{weeks} weeks", today)
    to_go = parse_due_date(f"in {40 - weeks} weeks", today) if weeks <= 40 else None
    assert isinstance(pregnant, DueDate)
    if to_go is not None:
        assert isinstance(to_go, DueDate) and to_go.value == pregnant.value


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("yes", True),
        ("Yes!", True),
        ("yep", True),
        ("That's right", True),
        ("\U0001f44d", True),
        ("no", False),
        ("Nope.", False),
        ("that's wrong", False),
        ("maybe", None),
        ("no idea", None),
        ("14/03/2027", None),
        ("yes" * 100, None),
    ],
)
def test_a_typed_answer_to_is_that_right_is_read_as_yes_no_or_neither(
    text: str, said: bool | None
) -> None:
    assert read_yes_no(text) is said
