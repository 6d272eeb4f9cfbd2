"""Every count the council sees is protected cell by cell, so no two outputs can be combined.

The issue's attack: a November-to-December report shows a district total of 12, a November
report shows 10, so December is 2, which both reports hide. Whatever a reader combines, a
December of one sign-up must read exactly like a December of two.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.places.geo import default_gazetteer
from bot.services.reports.csv_files import table_csv, table_rows
from bot.services.reports.protection import (
    indistinguishable,
    protect_count,
    protected_rate,
    protected_total,
)
from bot.services.reports.report import build_report
from bot.services.reports.sections import Period, ReportInputs, Rows, Section
from bot.services.reports.tables import Cell, protect_table
from bot.services.staff import join_links
from tests.factories import make_resident

Sessions = async_sessionmaker[AsyncSession]
LONDON = ZoneInfo("Europe/London")
OCT = dt.datetime(2026, 10, 10, 12, 0, tzinfo=dt.UTC)
NOV = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
DEC = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
MONTHS = (dt.date(2026, 11, 1), dt.date(2026, 12, 1))
# Every period a user can ask for within these two months.
PERIODS = [Period(first, last, LONDON) for first in MONTHS for last in MONTHS if first <= last]
CHELMSFORD = "E07000070"


async def everything_published(sessions: Sessions) -> dict[str, str]:
    """Every table of every report a user could ask for, as the CSV she would get."""
    shown: dict[str, str] = {}
    async with sessions() as session, session.begin():
        for period in PERIODS:
            report = await build_report(session, period, default_gazetteer(), generated_at=DEC)
            for table in report.tables:
                shown[f"{period.label()}: {table.slug}"] = table_csv(table)
    return shown


async def test_a_small_month_cannot_be_recovered_by_differencing_two_periods(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        for _ in range(10):
            await make_resident(session, NOV, district_code=CHELMSFORD)
        await make_resident(session, DEC, district_code=CHELMSFORD)
    one_in_december = await everything_published(sessions)

    async with sessions() as session, session.begin():
        await make_resident(session, DEC, district_code=CHELMSFORD)
    two_in_december = await everything_published(sessions)

    for name, text in one_in_december.items():
        assert two_in_december[name] == text, name


async def test_one_sign_up_through_a_quiet_join_link_changes_nothing_any_report_shows(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        busy = await join_links.create_join_link(session, "Witham Clinic", CHELMSFORD, OCT)
        quiet = await join_links.create_join_link(session, "Witham Clinic", CHELMSFORD, OCT)
        for _ in range(10):
            await make_resident(session, NOV, signup_source=busy.code)
    before = await everything_published(sessions)

    async with sessions() as session, session.begin():
        await make_resident(session, DEC, signup_source=quiet.code)
    after = await everything_published(sessions)

    # Neither a column for the quiet link (all zeros) nor a change in how links are named
    # gives her away.
    assert after == before
    assert "Witham Clinic (link" in before["November 2026: signups_by_join_link"]
    assert quiet.code not in "".join(before.values())


# --- The rule itself ---------------------------------------------------------------------------


def nearest_multiple(count: int, base: int) -> int:
    """What the README promises, worked out the slow way: the nearest multiple, halves up."""
    return min(range(0, count + base + 1, base), key=lambda m: (abs(m - count), -m))


@given(st.integers(0, 500), st.integers(2, 12))
def test_a_count_is_published_as_its_nearest_multiple_and_stands_for_a_whole_band(
    count: int, base: int
) -> None:
    shown = protect_count(count, base)

    assert shown == nearest_multiple(count, base)
    band = indistinguishable(shown, base)
    assert count in band
    assert [protect_count(v, base) for v in band] == [shown] * len(band)
    # Nothing outside the band reads the same, and the band is as wide as the rounding allows.
    if band[0] > 0:
        assert protect_count(band[0] - 1, base) != shown
    assert protect_count(band[-1] + 1, base) != shown
    assert len(band) == (base if shown else base - base // 2)


def test_with_base_five_no_count_from_one_to_four_is_ever_published() -> None:
    assert [protect_count(n) for n in range(13)] == [0] * 3 + [5] * 5 + [10] * 5
    assert list(indistinguishable(0)) == [0, 1, 2]
    assert list(indistinguishable(5)) == [3, 4, 5, 6, 7]


def test_a_total_adds_the_rounded_cells_never_the_exact_ones() -> None:
    # Exactly 12 (10 and 2): published as 10 + 0, not as 12 rounded to 10 by chance.
    assert protected_total([10, 2]) == 10
    assert protected_total([3, 3, 3, 3]) == 20


def test_a_rate_is_only_taken_of_published_figures_and_only_of_a_whole_big_enough() -> None:
    assert protected_rate(20, 25) == 0.8
    assert protected_rate(5, 20) is None
    with pytest.raises(ValueError, match="published figures"):
        protected_rate(19, 25)


def test_a_base_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        protect_count(3, 1)


# --- Every report over every period, together ---------------------------------------------------

START = dt.date(2026, 1, 1)


def month(index: int) -> dt.date:
    return dt.date(START.year, START.month + index, 1)


def every_period(months: int) -> list[Period]:
    """Every period a user can ask for: any first month up to any last one."""
    return [
        Period(month(first), month(last), LONDON)
        for first, last in itertools.combinations_with_replacement(range(months), 2)
    ]


async def _never(inputs: ReportInputs) -> Rows:
    raise AssertionError("the tests hand the cells in themselves")


DIMS = ("month", "district", "join_link")
# One population split three ways, like the report's sign-ups: by district and by join link
# month by month, and district by join link over the whole period (a breakdown without months),
# with a rate: the first link's share of each district.
TABLES = [
    Section("by_district", "", "", "month", "district", _never, dims=DIMS),
    Section("by_link", "", "", "month", "join_link", _never, dims=DIMS),
    Section(
        "district_by_link",
        "",
        "",
        "district",
        "join_link",
        _never,
        dims=DIMS,
        share_of_first_column=True,
    ),
]

Dataset = Mapping[tuple[int, str, str], int]


@st.composite
def datasets(draw: st.DrawFn) -> tuple[int, Dataset]:
    """Exact counts by month, district and join link: mostly small, some large."""
    months = draw(st.integers(1, 3))
    districts = [f"d{i}" for i in range(draw(st.integers(1, 3)))]
    links = [f"l{i}" for i in range(draw(st.integers(1, 2)))]
    counts = st.one_of(st.integers(0, 6), st.integers(0, 30))
    cells = itertools.product(range(months), districts, links)
    return months, {cell: draw(counts) for cell in cells}


def everything_shown(months: int, data: Dataset) -> dict[tuple[str, str], list[list[str]]]:
    """Every table of every period, as published."""
    shown = {}
    for period in every_period(months):
        labels = set(period.months())
        # As from the database: an empty cell is no row at all, so a district or link with no
        # one in the period is not in the query's answer.
        counted: list[tuple[Cell, int]] = [
            ((f"{month(m):%Y-%m}", d, link), n)
            for (m, d, link), n in data.items()
            if f"{month(m):%Y-%m}" in labels and n > 0
        ]
        for section in TABLES:
            table = protect_table(section.table(period, counted))
            shown[(period.label(), section.slug)] = table_rows(table)
    return shown


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_no_combination_of_reports_over_any_periods_narrows_any_cell_beyond_its_rounding(
    dataset: tuple[int, Dataset],
) -> None:
    """Whatever a reader does with every report (differences, sums, any combination of the
    periods), she can't tell a cell's true count from any other the rounding allows: swapping it
    for each of them changes nothing in anything published.

    Identical outputs are stronger than checking combinations one by one: no function of them,
    a difference of two periods or a sum of any number of them, can tell the two worlds apart.
    """
    months, data = dataset
    shown = everything_shown(months, data)

    for cell, count in data.items():
        for other in indistinguishable(nearest_multiple(count, 5)):
            if other != count:
                assert everything_shown(months, {**data, cell: other}) == shown, (cell, other)


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_every_published_figure_is_a_sum_of_rounded_cells_and_tables_add_up(
    dataset: tuple[int, Dataset],
) -> None:
    months, data = dataset
    for (_, slug), rows in everything_shown(months, data).items():
        header, *body, totals = rows
        counts = header.index("Total") + 1
        for row in [*body, totals]:
            numbers = [int(value) for value in row[1:counts]]
            assert all(n % 5 == 0 for n in numbers), slug
            assert sum(numbers[:-1]) == numbers[-1], slug
