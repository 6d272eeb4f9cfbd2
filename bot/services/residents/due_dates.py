"""Due dates as people in the UK type them, or worked out from how far along she is.

What each form means (the README's table says the same to residents' helpers):
  "14/03/2027", "14 March", "2027-03-14"  a date, day before month
  "May 2027", "due in May"                 the middle (15th) of that month
  "20", "20 weeks", "20+3", "about 20 wks" weeks (and days) pregnant today
  "in 20 weeks", "20 weeks to go"          weeks from today
  "5 months", "5 months pregnant"          months pregnant today (a month is 365.25/12 days)
  "in 5 months", "5 months to go"          calendar months from today
  "I don't know yet"                       not known: asked again later
Every result is shown to her to confirm before it is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from dateutil.relativedelta import relativedelta

from bot.services.residents.polish_romanian import from_polish_or_romanian

MAX_WEEKS_AHEAD = 42
PREGNANCY_DAYS = 280
MAX_PREGNANCY_WEEKS = 42
# A number alone is read as weeks pregnant only from here: hardly anyone signs up sooner, and
# "2" alone is more likely a slip than two weeks.
BARE_WEEKS_FROM = 4
MAX_MONTHS = 9
MID_MONTH_DAY = 15
DAYS_PER_MONTH = 365.25 / 12

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
_PREFIX = re.compile(
    r"(?:(?:i'?m\s+|i\s+am\s+|my\s+|(?:my\s+)?baby'?s?\s+(?:is\s+)?)?due(?:\s+date)?(?:\s+is)?(?:\s+on)?"
    r"|edd)\s*:?\s*",
    _FLAGS,
)
# "about 20 weeks" means 20 weeks: the answer is confirmed with her anyway.
_HEDGE = r"(?:(?:about|around|roughly|approx(?:imately|\.)?|nearly|almost|abt|circa|~)\s*)?"
_UNKNOWN = re.compile(
    r"""
    (?:i\s+|i'?m\s+|i\s+am\s+)?
    (?:don'?t|do\s+not|dunno|not\s+sure|unsure|no\s+idea|idk|not\s+known|unknown)
    (?:\s+(?:know|sure))?(?:\s+(?:my\s+)?(?:due\s+date|date|it))?(?:\s+yet)?
    | not\s+yet | (?:i'?m\s+)?waiting\s+for\s+(?:my\s+)?(?:scan|dating\s+scan|date)
    """,
    _FLAGS,
)
_WEEKS_TO_GO = re.compile(
    r"(?:in\s+" + _HEDGE + r"(?P<a>\d{1,3})\s*(?:weeks?|wks?|w)(?:'?\s*time)?"
    r"|" + _HEDGE + r"(?P<b>\d{1,3})\s*(?:weeks?|wks?|w)\s+(?:to\s+go|left))",
    _FLAGS,
)
_MONTHS_TO_GO = re.compile(
    r"(?:in\s+" + _HEDGE + r"(?P<a>\d{1,2})\s*months?(?:'?\s*time)?"
    r"|" + _HEDGE + r"(?P<b>\d{1,2})\s*months?\s+(?:to\s+go|left))",
    _FLAGS,
)
_MONTHS_PREGNANT = re.compile(
    r"(?:(?:i'?m|i\s+am)\s+)?" + _HEDGE + r"(?P<months>\d{1,2})\s*months?(?:\s+pregnant)?",
    _FLAGS,
)
# A bare number is weeks pregnant; "I'm 20" alone is as likely her age, so it is not.
_BARE_WEEKS = re.compile(_HEDGE + r"(?P<weeks>\d{1,2})", _FLAGS)
_MONTH_ONLY = re.compile(
    r"(?:in\s+)?(?P<month>[a-z]{3,9})\.?(?:\s+'?(?P<year>\d{4}|\d{2}))?", _FLAGS
)

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


# --- Urdu: her words read as the English ones above -----------------------------------------
# The Urdu catalogue asks for "20 ہفتے" or "مئی 2027" and for "ہاں" or "نہیں", so those answers
# (in Urdu script or in Roman Urdu, as most people type it) are put into the English words this
# parser reads before it reads them. Nobody writing English types these words, so they are read
# whatever her language: a resident who switches language mid-answer is still understood.
_URDU_MARKS = re.compile("[\u064b-\u065f\u0670\u0640\u200c\u200d\u200e\u200f\u061c]")
_URDU_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",  # the Arabic keyboard's yeh, kaf and heh as Urdu's
        "\u0643": "\u06a9",
        "\u0647": "\u06c1",
        "\u06d4": ".",  # Urdu full stop
        "\u060c": ",",  # Urdu comma
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)
# Longer phrases first, so "جی ہاں" is one yes and "معلوم نہیں" is not a no.
_URDU_PHRASES: tuple[tuple[str, str], ...] = (
    (
        "مجھے ابھی معلوم نہیں|مجھے معلوم نہیں|ابھی معلوم نہیں|معلوم نہیں|پتا نہیں|پتہ نہیں",
        "dont know",
    ),
    (r"(?:mujhe )?(?:abhi )?(?:maloom|malum|pata|pta) (?:nahi|nahin|nhi|nai)", "dont know"),
    ("جی ہاں|جی ہان|ہاں جی|ji haan|jee haan|ji han|haan ji", "yes"),
    ("ہاں|ہان|haan", "yes"),
    ("نہیں|نہین|nahi|nahin|nhi", "no"),
    (r"(?:کی )?حاملہ(?: ہوں)?|(?:ki )?(?:hamla|haamla)(?: (?:hun|hoon))?", "pregnant"),
    (r"باقی(?: ہیں| ہے)?|baqi|baaqi", "left"),
    ("اور", "and"),
)
_URDU_WORDS = {
    "ہفتے": "weeks",
    "ہفتوں": "weeks",
    "ہفتہ": "weeks",
    "hafte": "weeks",
    "haftay": "weeks",
    "hafton": "weeks",
    "hafta": "weeks",
    "مہینے": "months",
    "مہینوں": "months",
    "مہینہ": "months",
    "ماہ": "months",
    "mahine": "months",
    "mahiney": "months",
    "mahinay": "months",
    "دن": "days",
    "جنوری": "january",
    "فروری": "february",
    "مارچ": "march",
    "اپریل": "april",
    "مئی": "may",
    "جون": "june",
    "جولائی": "july",
    "اگست": "august",
    "ستمبر": "september",
    "اکتوبر": "october",
    "نومبر": "november",
    "دسمبر": "december",
}
_URDU_WORD = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(_URDU_WORDS, key=len, reverse=True)) + r")(?!\w)"
)
# "20 ہفتوں میں" is "in 20 weeks": Urdu puts "in" after the time.
_URDU_IN = re.compile(r"(\d{1,3}) (weeks|months) (?:میں|mein|men|me)(?!\w)")


def from_urdu(text: str) -> str:
    """Her answer with Urdu words (script or Roman) put into the English ones read below."""
    text = _URDU_MARKS.sub("", text).translate(_URDU_LETTERS)
    text = _URDU_WORD.sub(lambda m: _URDU_WORDS[m.group(0)], text)
    text = _URDU_IN.sub(r"in \1 \2", text)
    for pattern, english in _URDU_PHRASES:
        text = re.sub(r"(?<!\w)(?:" + pattern + r")(?!\w)", english, text)
    return " ".join(text.split())


Basis = Literal["date", "month", "weeks_pregnant", "weeks_to_go", "months_pregnant", "months_to_go"]


@dataclass(frozen=True)
class DueDate:
    """A usable due date, how it was worked out, and what she typed that it came from."""

    value: dt.date
    basis: Basis = "date"
    # The weeks or months she gave, for the confirmation ("5 months is about 21 weeks ...").
    count: int = 0
    # Set when her digits, read day first, gave this out-of-range date and `value` is the
    # reading with day and month swapped: she is asked "did you mean ...?".
    read_as: dt.date | None = None

    @property
    def from_weeks(self) -> bool:
        """Worked out from how far along she is rather than a date she named."""
        return self.basis not in ("date", "month")


@dataclass(frozen=True)
class DueDateProblem:
    """Why the text could not be taken as a due date."""

    reason: Literal["unrecognised", "past", "too_far", "weeks_out_of_range", "months_out_of_range"]
    # How digits were read (day first), when that reading is the one out of range.
    read_as: dt.date | None = None


@dataclass(frozen=True)
class NotKnownYet:
    """She doesn't know her due date yet (often until the dating scan)."""


ParsedDueDate = DueDate | DueDateProblem | NotKnownYet


def parse_due_date(text: str, today: dt.date) -> ParsedDueDate:
    """Read a typed due date or how far along she is, UK style (day before month)."""
    try:
        return _parse(text, today)
    except (ValueError, OverflowError):
        # Only reachable at the very ends of the calendar (today near year 1 or 9999).
        return DueDateProblem("unrecognised")


def months_as_days(months: int) -> int:
    """Months pregnant as days, with the average calendar month."""
    return round(months * DAYS_PER_MONTH)


def gestation(due: dt.date, today: dt.date) -> tuple[int, int]:
    """Weeks and days pregnant today, counting a pregnancy as 280 days; never negative."""
    days = max(0, PREGNANCY_DAYS - (due - today).days)
    weeks, rest = divmod(days, 7)
    return weeks, rest


def _parse(text: str, today: dt.date) -> ParsedDueDate:
    if not isinstance(text, str) or len(text) > _MAX_TEXT_LENGTH:
        return DueDateProblem("unrecognised")
    cleaned = " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split()).lower()
    cleaned = from_polish_or_romanian(from_urdu(cleaned))
    if not cleaned.isascii():
        return DueDateProblem("unrecognised")
    cleaned = cleaned.rstrip(".!")
    if _UNKNOWN.fullmatch(cleaned):
        return NotKnownYet()
    prefix = _PREFIX.match(cleaned)
    if prefix is not None:
        cleaned = cleaned[prefix.end() :]
    if _UNKNOWN.fullmatch(cleaned):
        return NotKnownYet()

    counted = _counted(cleaned, today)
    if counted is not None:
        return counted

    reading = _read_date(cleaned, today)
    if reading is None:
        return DueDateProblem("unrecognised")
    problem = _out_of_range(reading.value, reading.explicit_year, today)
    if problem is None:
        return DueDate(reading.value, "month" if reading.whole_month else "date")
    swapped = reading.swapped
    if swapped is not None and _out_of_range(swapped, reading.explicit_year, today) is None:
        return DueDate(swapped, "date", read_as=reading.value)
    return DueDateProblem(problem, read_as=reading.value if swapped is not None else None)


def _out_of_range(
    value: dt.date, explicit_year: bool, today: dt.date
) -> Literal["past", "too_far"] | None:
    if value < today:
        return "past"
    if (value - today).days > MAX_WEEKS_AHEAD * 7:
        # With no year we took the next occurrence; if that is over 42 weeks off she almost
        # certainly meant the one that has just gone by.
        return "too_far" if explicit_year else "past"
    return None


def _counted(text: str, today: dt.date) -> DueDate | DueDateProblem | None:
    """A due date worked out from weeks or months (pregnant, or to go); None if not that."""
    to_go = _WEEKS_TO_GO.fullmatch(text)
    if to_go is not None:
        weeks = int(to_go["a"] or to_go["b"])
        if weeks > MAX_WEEKS_AHEAD:
            return DueDateProblem("weeks_out_of_range")
        return DueDate(today + dt.timedelta(weeks=weeks), "weeks_to_go", weeks)
    months_to_go = _MONTHS_TO_GO.fullmatch(text)
    if months_to_go is not None:
        months = int(months_to_go["a"] or months_to_go["b"])
        if months > MAX_MONTHS:
            return DueDateProblem("months_out_of_range")
        return DueDate(today + relativedelta(months=months), "months_to_go", months)
    weeks_match = _WEEKS.fullmatch(_strip_hedge(text))
    if weeks_match is not None:
        return _from_weeks(weeks_match, today)
    bare = _BARE_WEEKS.fullmatch(text)
    if bare is not None:
        if not BARE_WEEKS_FROM <= int(bare["weeks"]) <= MAX_PREGNANCY_WEEKS:
            # "2" or "50" alone is no plausible week of pregnancy: ask again with examples.
            return DueDateProblem("unrecognised")
        return _from_weeks(bare, today)
    months_pregnant = _MONTHS_PREGNANT.fullmatch(text)
    if months_pregnant is not None:
        months = int(months_pregnant["months"])
        if months > MAX_MONTHS:
            return DueDateProblem("months_out_of_range")
        days = PREGNANCY_DAYS - months_as_days(months)
        return DueDate(today + dt.timedelta(days=days), "months_pregnant", months)
    return None


def _strip_hedge(text: str) -> str:
    hedge = re.match(_HEDGE, text)
    return text[hedge.end() :] if hedge else text


def _from_weeks(match: re.Match[str], today: dt.date) -> DueDate | DueDateProblem:
    weeks = int(match["weeks"])
    groups = match.groupdict()
    days = int(groups.get("plus_days") or groups.get("days") or 0)
    if not (0 <= weeks <= MAX_PREGNANCY_WEEKS and 0 <= days <= 6):
        return DueDateProblem("weeks_out_of_range")
    # Past 40 weeks the due date has gone by, but she is still pregnant, so no "past" check.
    due = today + dt.timedelta(days=PREGNANCY_DAYS - (weeks * 7 + days))
    return DueDate(due, "weeks_pregnant", weeks)


@dataclass(frozen=True)
class _Reading:
    value: dt.date
    explicit_year: bool
    # The same digits read month first, when that is a different real date.
    swapped: dt.date | None = None
    whole_month: bool = False


def _read_date(text: str, today: dt.date) -> _Reading | None:
    """The date the text names, or None if it is not a date."""
    iso = _ISO.fullmatch(text)
    if iso is not None:
        value = _date(int(iso["year"]), int(iso["month"]), int(iso["day"]))
        return _Reading(value, True) if value else None

    numeric = _NUMERIC_WITH_YEAR.fullmatch(text)
    if numeric is not None:
        year = _full_year(numeric["year"])
        a, b = int(numeric["a"]), int(numeric["b"])
        # Day first, as written in the UK; month first only when that is the sole real date.
        day_first, month_first = _date(year, b, a), _date(year, a, b)
        if day_first is None:
            return _Reading(month_first, True) if month_first else None
        return _Reading(day_first, True, month_first if a != b else None)

    numeric = _NUMERIC_NO_YEAR.fullmatch(text)
    if numeric is not None:
        a, b = int(numeric["a"]), int(numeric["b"])
        day_first, month_first = _next_occurrence(b, a, today), _next_occurrence(a, b, today)
        if day_first is None:
            return _Reading(month_first, False) if month_first else None
        return _Reading(day_first, False, month_first if a != b else None)

    named = _DAY_MONTH.fullmatch(text) or _MONTH_DAY.fullmatch(text)
    if named is None:
        return _read_month(text, today)
    month = _MONTHS.get(named["month"])
    if month is None:
        return None
    day = int(named["day"])
    if named["year"] is None:
        value = _next_occurrence(month, day, today)
        return _Reading(value, False) if value else None
    value = _date(_full_year(named["year"]), month, day)
    return _Reading(value, True) if value else None


def _read_month(text: str, today: dt.date) -> _Reading | None:
    """A month alone ("May", "due in May 2027"): the middle of it, or today if that has gone."""
    found = _MONTH_ONLY.fullmatch(text)
    month = _MONTHS.get(found["month"]) if found else None
    if found is None or month is None:
        return None
    if found["year"] is not None:
        year = _full_year(found["year"])
    else:
        year = today.year if month >= today.month else today.year + 1
    value = dt.date(year, month, MID_MONTH_DAY)
    if (year, month) == (today.year, today.month) and value < today:
        value = today
    return _Reading(value, found["year"] is not None, whole_month=True)


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
