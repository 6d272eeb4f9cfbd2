"""Due dates typed UK style, or worked out from weeks pregnant."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services import due_dates
from bot.services.due_dates import (
    MAX_WEEKS_AHEAD,
    DueDate,
    DueDateProblem,
    gestation,
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
    ],
)
def test_pregnancy_weeks_are_converted_to_a_due_date(text: str, weeks: int, days: int) -> None:
    result = parse_due_date(text, TODAY)
    expected = TODAY + dt.timedelta(days=280 - (weeks * 7 + days))
    assert result == DueDate(expected, from_weeks=True)
    assert gestation(expected, TODAY) == (weeks, days)


def test_overdue_weeks_are_accepted_though_the_due_date_has_passed() -> None:
    result = parse_due_date("41+2", TODAY)
    assert result == DueDate(TODAY - dt.timedelta(days=9), from_weeks=True)


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
        "March",
        "2027",
        "20",
        "20.5",
        "I'm 20",
        "31/02/2027",
        "13/13/2027",
        "2027-02-30",
        "14/03/2027/01",
        "14 Marchh 2027",
        "\u0661\u0664/03/2027",  # Arabic-Indic digits
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
    assert parse_due_date(due.strftime(pattern), TODAY) == DueDate(due, from_weeks=False)


@settings(max_examples=200)
@given(st.text(max_size=80), st.dates())
def test_parsing_any_text_never_raises(text: str, today: dt.date) -> None:
    result = parse_due_date(text, today)
    assert isinstance(result, DueDate | DueDateProblem)


@given(
    st.from_regex(r"[0-9]{1,4}[-/. ][0-9a-z]{1,9}([-/. ][0-9]{1,4})?", fullmatch=True),
    st.dates(),
)
def test_parsing_date_shaped_text_never_raises(text: str, today: dt.date) -> None:
    result = parse_due_date(text, today)
    assert isinstance(result, DueDate | DueDateProblem)


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
