"""Due dates as people in the UK type them, or worked out from how many weeks along she is."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

MAX_WEEKS_AHEAD = 42
PREGNANCY_DAYS = 280
MAX_PREGNANCY_WEEKS = 42

# Nothing legitimate is longer; refusing early keeps regex work bounded on pasted essays.
_MAX_TEXT_LENGTH = 64

_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}

_FLAGS = re.ASCII | re.VERBOSE

# People often lead with these; anything else around a date makes it not a date.
_PREFIX = re.compile(r"(?:(?:my\s+)?due(?:\s+date)?(?:\s+is)?(?:\s+on)?|edd)\s*:?\s*", _FLAGS)

_WEEKS = re.compile(
    r"""
    (?:(?:i'?m|i\s+am)\s+)?
    (?P<weeks>\d{1,3})\s*
    (?:
        \+\s*(?P<plus_days>\d{1,2})(?:\s*(?:weeks?|wks?|w))?      # 20+3, 20+3 weeks
      | (?:weeks?|wks?|w)                                         # 20 weeks, 20w
        (?:\s*(?:,|and|\+)?\s*(?P<days>\d{1,2})\s*(?:days?|d))?   # ... and 3 days, 20w3d
    )
    (?:\s+pregnant)?
    """,
    _FLAGS,
)

# Year first is unambiguous, and must be caught before the day-first rule sees it.
_ISO = re.compile(
    r"(?P<year>\d{4})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})", _FLAGS
)

_NUMERIC_WITH_YEAR = re.compile(
    r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})", _FLAGS
)
# Without a year a dot is refused: "20.5" is far more likely weeks than the 20th of May.
_NUMERIC_NO_YEAR = re.compile(r"(?P<a>\d{1,2})(?P<sep>[-/])(?P<b>\d{1,2})", _FLAGS)

_SEP = r"(?:\s*[-/,.]\s*|\s+)"
_DAY = r"(?:the\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_MONTH = r"(?P<month>[a-z]{3,9})\.?"
_YEAR = r"(?:" + _SEP + r"'?(?P<year>\d{4}|\d{2}))?"
_DAY_MONTH = re.compile(_DAY + r"(?:\s+of)?" + _SEP + _MONTH + _YEAR, re.ASCII)
_MONTH_DAY = re.compile(_MONTH + _SEP + _DAY + _YEAR, re.ASCII)


@dataclass(frozen=True)
class DueDate:
    """A usable due date, and whether it was worked out from weeks pregnant."""

    value: dt.date
    from_weeks: bool


@dataclass(frozen=True)
class DueDateProblem:
    """Why the text could not be taken as a due date."""

    reason: Literal["unrecognised", "past", "too_far", "weeks_out_of_range"]


def parse_due_date(text: str, today: dt.date) -> DueDate | DueDateProblem:
    """Read a typed due date or weeks-pregnant answer, UK style (day before month)."""
    try:
        return _parse(text, today)
    except (ValueError, OverflowError):
        # Only reachable at the very ends of the calendar (today near year 1 or 9999).
        return DueDateProblem("unrecognised")


def gestation(due: dt.date, today: dt.date) -> tuple[int, int]:
    """Weeks and days pregnant today, counting a pregnancy as 280 days; never negative."""
    days = max(0, PREGNANCY_DAYS - (due - today).days)
    weeks, rest = divmod(days, 7)
    return weeks, rest


def _parse(text: str, today: dt.date) -> DueDate | DueDateProblem:
    if not isinstance(text, str) or len(text) > _MAX_TEXT_LENGTH:
        return DueDateProblem("unrecognised")
    cleaned = " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split()).lower()
    if not cleaned.isascii():
        return DueDateProblem("unrecognised")
    cleaned = cleaned.rstrip(".!")
    prefix = _PREFIX.match(cleaned)
    if prefix is not None:
        cleaned = cleaned[prefix.end() :]

    weeks = _WEEKS.fullmatch(cleaned)
    if weeks is not None:
        return _from_weeks(weeks, today)

    explicit_year, value = _read_date(cleaned, today)
    if value is None:
        return DueDateProblem("unrecognised")
    if value < today:
        return DueDateProblem("past")
    if (value - today).days > MAX_WEEKS_AHEAD * 7:
        # With no year we took the next occurrence; if that is over 42 weeks off she almost
        # certainly meant the one that has just gone by.
        return DueDateProblem("too_far" if explicit_year else "past")
    return DueDate(value, from_weeks=False)


def _from_weeks(match: re.Match[str], today: dt.date) -> DueDate | DueDateProblem:
    weeks = int(match["weeks"])
    days = int(match["plus_days"] or match["days"] or 0)
    if not (0 <= weeks <= MAX_PREGNANCY_WEEKS and 0 <= days <= 6):
        return DueDateProblem("weeks_out_of_range")
    # Past 40 weeks the due date has gone by, but she is still pregnant, so no "past" check.
    due = today + dt.timedelta(days=PREGNANCY_DAYS - (weeks * 7 + days))
    return DueDate(due, from_weeks=True)


def _read_date(text: str, today: dt.date) -> tuple[bool, dt.date | None]:
    """The date the text names and whether it gave a year; None if it is not a date."""
    iso = _ISO.fullmatch(text)
    if iso is not None:
        return True, _date(int(iso["year"]), int(iso["month"]), int(iso["day"]))

    numeric = _NUMERIC_WITH_YEAR.fullmatch(text)
    if numeric is not None:
        year = _full_year(numeric["year"])
        a, b = int(numeric["a"]), int(numeric["b"])
        # Day first, as written in the UK; month first only when that is the sole real date.
        return True, _date(year, b, a) or _date(year, a, b)

    numeric = _NUMERIC_NO_YEAR.fullmatch(text)
    if numeric is not None:
        a, b = int(numeric["a"]), int(numeric["b"])
        return False, _next_occurrence(b, a, today) or _next_occurrence(a, b, today)

    named = _DAY_MONTH.fullmatch(text) or _MONTH_DAY.fullmatch(text)
    if named is None:
        return False, None
    month = _MONTHS.get(named["month"])
    if month is None:
        return False, None
    day = int(named["day"])
    if named["year"] is None:
        return False, _next_occurrence(month, day, today)
    return True, _date(_full_year(named["year"]), month, day)


def _full_year(digits: str) -> int:
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _next_occurrence(month: int, day: int, today: dt.date) -> dt.date | None:
    """The first such day that is today or later (29 February can be up to 8 years off)."""
    for year in range(today.year, min(today.year + 9, dt.MAXYEAR + 1)):
        candidate = _date(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None
