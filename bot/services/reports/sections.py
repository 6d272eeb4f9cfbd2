"""The report's sections: a small registry that later features add their own tables to.

A section is a title, a query of exact counts by month-sized cells, and which two of the cells'
dimensions make its rows and columns. Sections that split the same people (or events) share one
query and its cells, with every dimension any of them needs, so each of their tables is a sum
of the same rounded cells (see `protection`); a section counting something else has its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.services.places.geo import Gazetteer
from bot.services.reports.tables import Cell, CountTable
from bot.services.staff.join_links import attributed
from models import (
    ConsentEvent,
    ConsentPurpose,
    FeedbackMoment,
    FeedbackResponse,
    JoinLink,
    Loneliness,
    Resident,
    StageBand,
    UTCDateTime,
)


@dataclass(frozen=True)
class Period:
    """Whole calendar months in the council's time zone, from `first` to `last` inclusive."""

    first: dt.date
    last: dt.date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.first.day != 1 or self.last.day != 1 or self.last < self.first:
            raise ValueError("a period runs from the first of one month to the first of another")

    @classmethod
    def months_between(cls, first: dt.date, last: dt.date, zone: ZoneInfo) -> Period:
        """The whole months covering `first` to `last` (days within the months are ignored)."""
        return cls(first.replace(day=1), last.replace(day=1), zone)

    @classmethod
    def last_months(cls, today: dt.date, count: int, zone: ZoneInfo) -> Period:
        """The `count` months up to and including this one."""
        index = today.year * 12 + today.month - 1 - (count - 1)
        return cls(dt.date(index // 12, index % 12 + 1, 1), today.replace(day=1), zone)

    @staticmethod
    def parse_month(text: str) -> dt.date | None:
        """ "2026-11" (or a full date in it) as the first of that month; None if not a month."""
        try:
            year, month = (int(part) for part in text.strip()[:7].split("-"))
            return dt.date(year, month, 1)
        except ValueError:
            return None

    def month_starts(self) -> list[dt.date]:
        """The first day of every month in the period, and of the month after it."""
        starts = [self.first]
        while starts[-1] <= self.last:
            month = starts[-1]
            starts.append(dt.date(month.year + month.month // 12, month.month % 12 + 1, 1))
        return starts

    def months(self) -> tuple[str, ...]:
        """Month labels, "2026-11"."""
        return tuple(f"{m:%Y-%m}" for m in self.month_starts()[:-1])

    def instant(self, day: dt.date) -> dt.datetime:
        """Local midnight at the start of `day`, in UTC."""
        return dt.datetime.combine(day, dt.time(0), self.zone).astimezone(dt.UTC)

    @property
    def start(self) -> dt.datetime:
        """The period's first moment, UTC."""
        return self.instant(self.first)

    @property
    def end(self) -> dt.datetime:
        """The moment just after the period, UTC."""
        return self.instant(self.month_starts()[-1])

    def label(self) -> str:
        """As people say it: "November 2026 to April 2027"."""
        first, last = f"{self.first:%B %Y}", f"{self.last:%B %Y}"
        return first if first == last else f"{first} to {last}"


@dataclass(frozen=True)
class ReportInputs:
    """What a section's query may use."""

    session: AsyncSession
    period: Period
    gazetteer: Gazetteer


Rows = Iterable[tuple[Cell, int]]
Query = Callable[[ReportInputs], Awaitable[Rows]]
Chart = Literal["lines", "stacked", "bars"]


@dataclass(frozen=True)
class Section:
    """One table of the report."""

    slug: str
    title: str
    description: str
    row_dim: str
    col_dim: str
    # Returns each cell's labels, one per dimension in `dims`, with its exact count.
    query: Query
    # The cells' dimensions, month first; by default the month and the row and column dimensions.
    dims: tuple[str, ...] | None = None
    # Fixed labels keep empty rows and columns visible; None takes them from the data, sorted,
    # where anything under them is published (months always come from the period).
    rows: tuple[str, ...] | None = None
    columns: tuple[str, ...] | None = None
    row_totals: bool = True
    column_totals: bool = True
    chart: Chart = "lines"
    # Show each row's first column as a share of its total ("rate"), where it means something.
    share_of_first_column: bool = False

    @property
    def cell_dims(self) -> tuple[str, ...]:
        """The dimensions of the cells the query counts."""
        if self.dims is not None:
            return self.dims
        if self.row_dim == "month":
            return ("month", self.col_dim)
        return ("month", self.row_dim, self.col_dim)

    def table(self, period: Period, counted: Iterable[tuple[Cell, int]]) -> CountTable:
        """The query's cells shaped into this section's table."""
        dims = self.cell_dims
        cells: dict[Cell, int] = {}
        for labels, n in counted:
            if len(labels) != len(dims):
                raise ValueError(f"section {self.slug} counted cells of another shape")
            cells[labels] = cells.get(labels, 0) + int(n)
        row_at, column_at = dims.index(self.row_dim), dims.index(self.col_dim)
        found_rows = {labels[row_at] for labels in cells} - {None}
        found_columns = {labels[column_at] for labels in cells} - {None}
        rows = period.months() if self.row_dim == "month" else self.rows
        columns = self.columns
        outside = (rows is not None and found_rows - set(rows)) or (
            columns is not None and found_columns - set(columns)
        )
        if outside or {labels[0] for labels in cells} - set(period.months()):
            raise ValueError(f"section {self.slug} counted outside its rows or columns")
        return CountTable(
            slug=self.slug,
            title=self.title,
            dims=dims,
            row_dim=self.row_dim,
            col_dim=self.col_dim,
            rows=rows,
            columns=columns,
            cells=cells,
            row_totals=self.row_totals,
            column_totals=self.column_totals,
            description=self.description,
            chart=self.chart,
            share_of_first_column=self.share_of_first_column,
        )


def month_of(column: Any, period: Period) -> ColumnElement[str]:
    """The local calendar month of a UTC timestamp column, the same on SQLite and PostgreSQL."""
    starts = period.month_starts()
    whens = [
        (column < literal(period.instant(following), UTCDateTime()), f"{month:%Y-%m}")
        for month, following in itertools.pairwise(starts)
    ]
    return case(*whens, else_=literal("later"))


def within(column: Any, period: Period) -> ColumnElement[bool]:
    """The timestamp falls in the period."""
    return and_(
        column >= literal(period.start, UTCDateTime()),
        column < literal(period.end, UTCDateTime()),
    )


NOT_RECORDED = "Not recorded"
NO_LINK = "No join link"
PURPOSE_LABELS = {
    ConsentPurpose.HEALTH_DATA: "Keeping pregnancy details",
    ConsentPurpose.MATCHING: "Meeting other mums",
    ConsentPurpose.LOCAL_INFO: "Local information",
    ConsentPurpose.FEEDBACK: "Feedback questions",
}
LONELINESS_LABELS = {
    Loneliness.OFTEN_OR_ALWAYS: "Often or always",
    Loneliness.SOME_OF_THE_TIME: "Some of the time",
    Loneliness.OCCASIONALLY: "Occasionally",
    Loneliness.HARDLY_EVER: "Hardly ever",
    Loneliness.NEVER: "Never",
}
STAGE_LABELS = {
    StageBand.FIRST_TRIMESTER: "Weeks 0–12",
    StageBand.SECOND_TRIMESTER: "Weeks 13–27",
    StageBand.THIRD_TRIMESTER: "Weeks 28 to due date",
    StageBand.AFTER_DUE_DATE: "After the due date",
    StageBand.UNKNOWN: "Not known",
}
MOMENT_LABELS = {
    FeedbackMoment.ANYTIME: "She chose to (/feedback)",
    FeedbackMoment.TWO_WEEKS: "Asked two weeks in",
    FeedbackMoment.AFTER_INTRODUCTION: "Asked after an introduction",
    FeedbackMoment.AFTER_BIRTH: "Asked after the birth",
}
RATINGS = ("1", "2", "3", "4", "5")


SIGNUP_DIMS = ("month", "district", "join_link")


async def signups(inputs: ReportInputs) -> Rows:
    """Completed sign-ups by month, district and the join link they count for.

    Both sign-up tables take these cells, so the district table and the join-link table are sums
    of the same rounded cells. Attribution is join_links' own rule (started while the link was
    live), so for finished sign-ups this agrees with /mystats, which also counts mums still
    signing up. A payload that names no link, or a link used after it was stopped, counts as
    "No join link".
    """
    names = {d.code: d.name for d in inputs.gazetteer.districts()}
    month = month_of(Resident.onboarded_at, inputs.period)
    # Codes are unique, so the outer join finds at most one link and counts no one twice.
    result = await inputs.session.execute(
        select(month, Resident.district_code, JoinLink.id, JoinLink.clinic, func.count())
        .select_from(Resident)
        .outerjoin(JoinLink, attributed())
        .where(within(Resident.onboarded_at, inputs.period))
        .group_by(month, Resident.district_code, JoinLink.id, JoinLink.clinic)
    )
    rows = list(result)
    # Counted over every link, not the ones with sign-ups: a label must not depend on counts.
    links_per_clinic = Counter(await inputs.session.scalars(select(JoinLink.clinic)))

    def label(link_id: int | None, clinic: str | None) -> str:
        if link_id is None or clinic is None:
            return NO_LINK
        # The council knows a link by its clinic. Two links of one clinic (one revoked and
        # replaced, say) are told apart by number, never by code: a code in the report would
        # let anyone reading it sign up in that clinic's name.
        return clinic if links_per_clinic[clinic] == 1 else f"{clinic} (link {link_id})"

    return [
        ((m, names.get(code or "", NOT_RECORDED), label(link_id, clinic)), n)
        for m, code, link_id, clinic, n in rows
    ]


async def consent_by_purpose(inputs: ReportInputs) -> Rows:
    """Everyone's latest choice per purpose as the period ended, in the cell of its last month."""
    latest = (
        select(func.max(ConsentEvent.id).label("id"))
        .where(ConsentEvent.created_at < literal(inputs.period.end, UTCDateTime()))
        .group_by(ConsentEvent.person_ref, ConsentEvent.purpose)
        .subquery()
    )
    result = await inputs.session.execute(
        select(ConsentEvent.purpose, ConsentEvent.granted, func.count())
        .join(latest, latest.c.id == ConsentEvent.id)
        .group_by(ConsentEvent.purpose, ConsentEvent.granted)
    )
    # A count at the end of a month: every report ending that month shows the same cell.
    last = inputs.period.months()[-1]
    return [((last, PURPOSE_LABELS[p], "Yes" if granted else "No"), n) for p, granted, n in result]


def language_label(code: str | None) -> str:
    """A language by its English name ("Polish"): staff see languages only in counts."""
    try:
        return Locale.parse(code or "").get_display_name("en") or NOT_RECORDED
    except (ValueError, UnknownLocaleError):
        return NOT_RECORDED


async def signups_by_language(inputs: ReportInputs) -> Rows:
    """Completed sign-ups by month and the language she uses the bot in."""
    month = month_of(Resident.onboarded_at, inputs.period)
    result = await inputs.session.execute(
        select(month, Resident.language_code, func.count())
        .where(within(Resident.onboarded_at, inputs.period))
        .group_by(month, Resident.language_code)
    )
    return [((m, language_label(code)), n) for m, code, n in result]


async def consent_by_language(inputs: ReportInputs) -> Rows:
    """Answers to the sign-up consent question (yes or no) in the period, by month and the
    language of the text she read. One answer per person signing up: a count of people, which
    the rounding protects (every choice of hers would count one person several times)."""
    month = month_of(ConsentEvent.created_at, inputs.period)
    result = await inputs.session.execute(
        select(month, ConsentEvent.language, func.count())
        .where(
            within(ConsentEvent.created_at, inputs.period),
            ConsentEvent.purpose == ConsentPurpose.HEALTH_DATA,
        )
        .group_by(month, ConsentEvent.language)
    )
    return [((m, language_label(code)), n) for m, code, n in result]


async def consent_withdrawals(inputs: ReportInputs) -> Rows:
    """A "no" that replaced a "yes", by month and purpose."""
    history = select(
        ConsentEvent.purpose,
        ConsentEvent.granted,
        ConsentEvent.created_at,
        func.lag(ConsentEvent.granted)
        .over(
            partition_by=(ConsentEvent.person_ref, ConsentEvent.purpose),
            order_by=ConsentEvent.id,
        )
        .label("before"),
    ).subquery()
    month = month_of(history.c.created_at, inputs.period)
    result = await inputs.session.execute(
        select(month, history.c.purpose, func.count())
        .where(
            history.c.granted.is_(False),
            history.c.before.is_(True),
            within(history.c.created_at, inputs.period),
        )
        .group_by(month, history.c.purpose)
    )
    return [((m, PURPOSE_LABELS[ConsentPurpose(p)]), n) for m, p, n in result]


RATING_DIMS = ("month", "moment", "service", "rating")


async def ratings(inputs: ReportInputs) -> Rows:
    """Ratings from 1 to 5 by month, what prompted them and the service they are about (if any).

    The three ratings tables take these cells, so none can be set against another.
    """
    month = month_of(FeedbackResponse.created_at, inputs.period)
    columns = (month, FeedbackResponse.moment, FeedbackResponse.service_ref)
    result = await inputs.session.execute(
        select(*columns, FeedbackResponse.rating, func.count())
        .where(within(FeedbackResponse.created_at, inputs.period))
        .group_by(*columns, FeedbackResponse.rating)
    )
    return [((m, MOMENT_LABELS[moment], service, str(r)), n) for m, moment, service, r, n in result]


LONELINESS_DIMS = ("month", "stage", "loneliness")


async def loneliness(inputs: ReportInputs) -> Rows:
    """Answers to "How often do you feel lonely?", by month and pregnancy stage."""
    month = month_of(FeedbackResponse.created_at, inputs.period)
    columns = (month, FeedbackResponse.stage_band, FeedbackResponse.loneliness)
    result = await inputs.session.execute(
        select(*columns, func.count())
        .where(
            within(FeedbackResponse.created_at, inputs.period),
            FeedbackResponse.loneliness.is_not(None),
        )
        .group_by(*columns)
    )
    return [
        ((m, STAGE_LABELS[band], LONELINESS_LABELS[answer]), n)
        for m, band, answer, n in result
        # Never None here (the query leaves those out); the check is for the type.
        if answer is not None
    ]


SECTIONS: list[Section] = [
    Section(
        slug="signups_by_district",
        title="Sign-ups by month and district",
        description="Residents who finished signing up, by the month they finished and the "
        "district they live in. Residents who later asked us to delete their data are not "
        "counted.",
        row_dim="month",
        col_dim="district",
        # Columns come from the data: a district with no sign-ups would only add width.
        query=signups,
        dims=SIGNUP_DIMS,
        chart="stacked",
    ),
    Section(
        slug="signups_by_join_link",
        title="Sign-ups by month and join link",
        description="The same sign-ups by the midwife's join link (QR code or web link) they "
        "count for: one used while the link was live. A link stopped by its midwife still "
        "works, but sign-ups through it afterwards are counted under no join link.",
        row_dim="month",
        col_dim="join_link",
        query=signups,
        dims=SIGNUP_DIMS,
        chart="stacked",
    ),
    Section(
        slug="consent_by_purpose",
        title="Consent choices at the end of the period",
        description="Everyone's latest choice for each purpose, including people who said no "
        "at the start and people who have since left. The rate is the share who said yes.",
        row_dim="purpose",
        col_dim="choice",
        query=consent_by_purpose,
        rows=tuple(PURPOSE_LABELS.values()),
        columns=("Yes", "No"),
        column_totals=False,
        chart="bars",
        share_of_first_column=True,
    ),
    Section(
        slug="signups_by_language",
        title="Sign-ups by month and language",
        description="Completed sign-ups by the language she chose to use Bump Buddies in.",
        row_dim="month",
        col_dim="language",
        query=signups_by_language,
        chart="stacked",
    ),
    Section(
        slug="consent_by_language",
        title="Sign-up consent answers by month and language",
        description="Answers, yes or no, to the first consent question (keeping pregnancy "
        "details), by the language of the text she read when she answered.",
        row_dim="month",
        col_dim="language",
        query=consent_by_language,
        chart="stacked",
    ),
    Section(
        slug="consent_withdrawals",
        title="Consent withdrawn, by month and purpose",
        description="Times someone turned off a purpose she had agreed to. Keeping pregnancy "
        "details is withdrawn by deleting her data, so it is not listed.",
        row_dim="month",
        col_dim="purpose",
        query=consent_withdrawals,
        columns=tuple(PURPOSE_LABELS[p] for p in PURPOSE_LABELS if p != ConsentPurpose.HEALTH_DATA),
    ),
    Section(
        slug="ratings_by_month",
        title="Feedback ratings by month",
        description="Ratings from 1 (poor) to 5 (excellent).",
        row_dim="month",
        col_dim="rating",
        query=ratings,
        dims=RATING_DIMS,
        columns=RATINGS,
        chart="stacked",
    ),
    Section(
        slug="ratings_by_moment",
        title="Feedback ratings by what prompted them",
        description="Whether she sent feedback herself or answered a question we asked.",
        row_dim="moment",
        col_dim="rating",
        query=ratings,
        dims=RATING_DIMS,
        rows=tuple(MOMENT_LABELS.values()),
        columns=RATINGS,
        chart="bars",
    ),
    Section(
        slug="ratings_by_service",
        title="Ratings of local services",
        description="Ratings given about a service in the local directory.",
        row_dim="service",
        col_dim="rating",
        query=ratings,
        dims=RATING_DIMS,
        columns=RATINGS,
        chart="bars",
    ),
    Section(
        slug="loneliness_by_month",
        title="How often do you feel lonely? By month",
        description="The ONS direct measure of loneliness, from those who chose to answer it.",
        row_dim="month",
        col_dim="loneliness",
        query=loneliness,
        dims=LONELINESS_DIMS,
        columns=tuple(LONELINESS_LABELS.values()),
        chart="stacked",
    ),
    Section(
        slug="loneliness_by_stage",
        title="How often do you feel lonely? By pregnancy stage",
        description="The same answers by how far along she was when she answered.",
        row_dim="stage",
        col_dim="loneliness",
        query=loneliness,
        dims=LONELINESS_DIMS,
        rows=tuple(STAGE_LABELS.values()),
        columns=tuple(LONELINESS_LABELS.values()),
        chart="bars",
    ),
]


def register(section: Section) -> Section:
    """Add a section (matching, deliveries, broadcasts ...) to every report from now on."""
    if any(existing.slug == section.slug for existing in SECTIONS):
        raise ValueError(f"a report section called {section.slug} already exists")
    SECTIONS.append(section)
    return section


async def count_sections(
    session: AsyncSession,
    period: Period,
    gazetteer: Gazetteer,
    sections: Sequence[Section] | None = None,
) -> list[CountTable]:
    """Every section's exact counts; only `protect_table` may turn them into output."""
    inputs = ReportInputs(session, period, gazetteer)
    # Sections sharing a query share its cells: counted once.
    counted: dict[Query, list[tuple[Cell, int]]] = {}
    tables = []
    for section in sections or SECTIONS:
        if section.query not in counted:
            counted[section.query] = list(await section.query(inputs))
        tables.append(section.table(period, counted[section.query]))
    return tables
