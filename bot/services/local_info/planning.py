"""The daily plan: who is due which week message and which "near you" message, set-based.

Each step is one INSERT ... SELECT into the delivery queue, whose unique key (resident, content
item) makes planning twice, a restart mid-run or two processes harmless: a row that exists is left
alone. Nothing is computed per resident in Python, so a run costs a few statements whatever the
number of residents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Date,
    Integer,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from bot.delivery import queue, render
from bot.delivery.quiet_hours import QuietHours
from bot.services.local_info.content import POSTNATAL, PREGNANCY
from bot.services.residents.due_dates import PREGNANCY_DAYS
from bot.texts import catalogue
from models import (
    ContentCategory,
    ContentMessage,
    Delivery,
    DeliveryStatus,
    LifeEvent,
    LifeStage,
    PlanningRun,
    Resident,
    ResidentStatus,
    UTCDateTime,
    WardDigest,
)

WEEK = "week"
SERVICES = "services"
CHECKIN = "checkin"
# What withdrawing the local-information consent stops at once.
LOCAL_INFO_KINDS = (WEEK, SERVICES)
# Everything about the pregnancy; stopped when she tells us the baby arrived or it ended.
PREGNANCY_KINDS = (WEEK, SERVICES, CHECKIN)
OVERDUE_CHECKIN_KEY = "checkin:overdue"
OVERDUE_AFTER_DAYS = 14
# A run missed for a while still asks, but not months late, when "how are you?" would jar.
OVERDUE_ASK_UNTIL_DAYS = 28
BORN_CALLBACK = "le:born"
# Held by a plan for its whole transaction on PostgreSQL, and taken by a withdrawal before it
# cancels: see plan_day.
_PLAN_LOCK = 4_040_001


@dataclass(frozen=True)
class PlanResult:
    """What one run queued."""

    local_date: dt.date
    weeks: int
    services: int
    checkins: int

    @property
    def queued(self) -> int:
        """Every row this run added."""
        return self.weeks + self.services + self.checkins


def batch_name(local_date: dt.date) -> str:
    """The batch a day's rows belong to."""
    return f"daily:{local_date.isoformat()}"


def _days_from(session: AsyncSession, today: dt.date, column: Any) -> ColumnElement[int]:
    """Whole days from the date in `column` to today (negative if it is still to come)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(literal(today, Date) - column, Integer)
    return cast(func.julianday(today.isoformat()) - func.julianday(column), Integer)


def _reachable() -> ColumnElement[bool]:
    return and_(Resident.status == ResidentStatus.ACTIVE, Resident.unreachable_since.is_(None))


def _wants_local_info() -> ColumnElement[bool]:
    # The mirror of her latest choice in consent_events (the record), kept by set_consent in
    # the same transaction: one column read instead of a look-up in the history per resident.
    return Resident.local_info_consent == true()


def _stage_is(stage: LifeStage) -> ColumnElement[bool]:
    if stage is LifeStage.PREGNANT:
        return or_(LifeEvent.stage.is_(None), LifeEvent.stage == LifeStage.PREGNANT)
    return LifeEvent.stage == stage


def _insert(session: AsyncSession, rows: Select[Any]) -> Any:
    columns = [
        "resident_id",
        "content_key",
        "batch",
        "kind",
        "text",
        "template",
        "buttons",
        "paid",
        "status",
        "not_before",
        "attempts",
        "created_at",
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(Delivery)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["resident_id", "content_key"])
    )


async def _inserted(session: AsyncSession, result: Any) -> int:
    count = int(result.rowcount)
    if count < 0:
        # Python's sqlite3 reports no row count for a statement that starts with WITH.
        count = int(await session.scalar(text("SELECT changes()")) or 0)
    return count


@dataclass(frozen=True)
class _Run:
    today: dt.date
    now: dt.datetime
    not_before: dt.datetime

    @property
    def batch(self) -> str:
        return batch_name(self.today)

    def row(
        self,
        key: Any,
        kind: str,
        text_: Any,
        template: Any,
        buttons: list[list[dict[str, str]]] | None,
    ) -> list[Any]:
        return [
            Resident.id,
            key,
            literal(self.batch),
            literal(kind),
            text_,
            template,
            literal(buttons, JSON) if buttons else null(),
            false(),
            literal(DeliveryStatus.QUEUED.value),
            literal(self.not_before, UTCDateTime()),
            literal(0),
            literal(self.now, UTCDateTime()),
        ]


def _has_row(resident_id: Any, content_key: Any) -> ColumnElement[bool]:
    """She already has this item in the queue (whatever its state)."""
    # Only read before anything is inserted: the window function below sorts every candidate
    # first, so these probes never see the table growing under the same statement.
    found = (
        select(literal(1))
        .where(Delivery.resident_id == resident_id, Delivery.content_key == content_key)
        .limit(1)
        .scalar_subquery()
    )
    return found.is_not(None)


def born_button() -> list[list[dict[str, str]]]:
    """The button under every pregnancy week message."""
    return [[render.button("content.baby_arrived_button", callback_data=BORN_CALLBACK)]]


async def _queue_weeks(session: AsyncSession, run: _Run) -> int:
    """Everyone's message for the week she is in today, if she hasn't had it: one statement."""
    days_to_due = -_days_from(session, run.today, Resident.due_date)
    since_birth = _days_from(session, run.today, LifeEvent.baby_born_on)
    is_baby = LifeEvent.stage == LifeStage.BABY
    # Materialised, so residents are read once: joined to the messages directly, PostgreSQL
    # misjudges the computed week and rescans every resident once per message.
    eligible = (
        select(
            Resident.id.label("resident_id"),
            case((is_baby, literal(POSTNATAL)), else_=literal(PREGNANCY)).label("series"),
            case((is_baby, since_birth // 7 + 1), else_=(PREGNANCY_DAYS - days_to_due) // 7).label(
                "week"
            ),
        )
        .select_from(Resident)
        .outerjoin(LifeEvent, LifeEvent.resident_id == Resident.id)
        .where(
            _reachable(),
            _wants_local_info(),
            or_(
                and_(_stage_is(LifeStage.PREGNANT), days_to_due <= PREGNANCY_DAYS),
                and_(is_baby, since_birth >= 0),
            ),
        )
        .cte("eligible")
        .prefix_with("MATERIALIZED")
    )
    rows = (
        select(
            eligible.c.resident_id,
            ContentMessage.key,
            literal(run.batch),
            literal(WEEK),
            ContentMessage.text,
            # Worded again when sent, from its translation in her language then.
            literal(render.WEEK) + ContentMessage.key,
            case(
                (ContentMessage.series == PREGNANCY, literal(born_button(), JSON)),
                else_=null(),
            ),
            false(),
            literal(DeliveryStatus.QUEUED.value),
            literal(run.not_before, UTCDateTime()),
            literal(0),
            literal(run.now, UTCDateTime()),
        )
        .select_from(eligible)
        .join(
            ContentMessage,
            and_(
                ContentMessage.series == eligible.c.series,
                ContentMessage.week == eligible.c.week,
            ),
        )
        # Whether she already has it is left to the unique key (ON CONFLICT DO NOTHING): a
        # NOT EXISTS here would read the table this statement is filling, which PostgreSQL
        # plans as a sequential scan per row while the table's statistics still say "empty".
        .where(eligible.c.week >= 1)
    )
    return await _inserted(session, await session.execute(_insert(session, rows)))


def _service_candidates(session: AsyncSession, run: _Run) -> Select[Any]:
    """Per resident on her weekly day, each category that suits her stage and has a digest."""
    stage = func.coalesce(LifeEvent.stage, LifeStage.PREGNANT.value)
    # Days since what her weeks count from: conception (nominally), the birth, or the loss.
    days = case(
        (stage == LifeStage.BABY.value, _days_from(session, run.today, LifeEvent.baby_born_on)),
        (stage == LifeStage.ENDED.value, _days_from(session, run.today, LifeEvent.ended_on)),
        else_=PREGNANCY_DAYS + _days_from(session, run.today, Resident.due_date),
    )
    # Only those on their weekly day are read further: a "near you" message at most weekly.
    weekly = (
        select(
            Resident.id.label("resident_id"),
            Resident.ward_code.label("ward_code"),
            stage.label("stage"),
            days.label("days"),
        )
        .select_from(Resident)
        .outerjoin(LifeEvent, LifeEvent.resident_id == Resident.id)
        .where(
            _reachable(),
            _wants_local_info(),
            days % 7 == 0,
            or_(
                and_(stage == LifeStage.PREGNANT.value, days >= 7),
                and_(stage == LifeStage.BABY.value, days >= 0),
                and_(stage == LifeStage.ENDED.value, days >= 7, LifeEvent.keep_local_info),
            ),
        )
        .cte("weekly")
        .prefix_with("MATERIALIZED")
    )
    week = weekly.c.days // 7
    stage_fits = or_(
        and_(
            weekly.c.stage == LifeStage.PREGNANT.value,
            ContentCategory.pregnancy_from <= week,
            ContentCategory.pregnancy_to >= week,
        ),
        and_(
            weekly.c.stage == LifeStage.BABY.value,
            ContentCategory.postnatal_from <= week + 1,
            ContentCategory.postnatal_to >= week + 1,
        ),
        and_(weekly.c.stage == LifeStage.ENDED.value, ContentCategory.after_loss.is_(True)),
    )
    content_key = literal("services:") + ContentCategory.code
    already = _has_row(weekly.c.resident_id, content_key)
    # A second run on the same day (a restart) must not pick her next category as well.
    # (NOT IN over today's batch is read once and hashed, rather than probed per resident.)
    sent_today = weekly.c.resident_id.in_(
        select(Delivery.resident_id).where(Delivery.batch == run.batch, Delivery.kind == SERVICES)
    )
    # The texts are joined only to the chosen rows: sorting narrow rows for the window is cheap.
    return (
        select(
            weekly.c.resident_id.label("resident_id"),
            weekly.c.ward_code.label("ward_code"),
            ContentCategory.code.label("category"),
            content_key.label("content_key"),
            func.row_number()
            .over(partition_by=weekly.c.resident_id, order_by=ContentCategory.position)
            .label("choice"),
        )
        .select_from(weekly)
        .join(WardDigest, WardDigest.ward_code == weekly.c.ward_code)
        .join(ContentCategory, ContentCategory.code == WardDigest.category)
        .where(stage_fits, ~already, ~sent_today)
    )


async def _queue_services(session: AsyncSession, run: _Run) -> int:
    candidates = _service_candidates(session, run).subquery("candidates")
    rows = (
        select(
            candidates.c.resident_id,
            candidates.c.content_key,
            literal(run.batch),
            literal(SERVICES),
            WardDigest.text,
            literal(render.DIGEST) + candidates.c.ward_code + literal(":") + candidates.c.category,
            null(),
            false(),
            literal(DeliveryStatus.QUEUED.value),
            literal(run.not_before, UTCDateTime()),
            literal(0),
            literal(run.now, UTCDateTime()),
        )
        .select_from(candidates)
        .join(
            WardDigest,
            and_(
                WardDigest.ward_code == candidates.c.ward_code,
                WardDigest.category == candidates.c.category,
            ),
        )
        # One "near you" message at a time: the first category she hasn't had yet.
        .where(candidates.c.choice == 1)
    )
    return await _inserted(session, await session.execute(_insert(session, rows)))


def checkin_buttons() -> list[list[dict[str, str]]]:
    """Buttons under the gentle "has your baby arrived?" question."""
    return [
        [render.button("life.born_button", callback_data=BORN_CALLBACK)],
        [render.button("life.still_waiting_button", callback_data="le:wait")],
        [render.button("life.ended_button", callback_data="le:ended")],
    ]


async def _queue_checkins(session: AsyncSession, run: _Run) -> int:
    days_to_due = -_days_from(session, run.today, Resident.due_date)
    rows = (
        select(
            *run.row(
                literal(OVERDUE_CHECKIN_KEY),
                CHECKIN,
                literal(catalogue()("life.overdue_question")),
                literal(render.message_template("life.overdue_question")),
                checkin_buttons(),
            )
        )
        .select_from(Resident)
        .outerjoin(LifeEvent, LifeEvent.resident_id == Resident.id)
        # Asked of everyone signed up, not only those who chose local information: it keeps
        # what we hold accurate (and her retention date right), and is asked once.
        .where(
            _reachable(),
            _stage_is(LifeStage.PREGNANT),
            days_to_due <= -OVERDUE_AFTER_DAYS,
            days_to_due >= -OVERDUE_ASK_UNTIL_DAYS,
        )
    )
    result = await session.execute(_insert(session, rows))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _lock_against_withdrawals(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PLAN_LOCK})


async def record_run(
    session: AsyncSession, local_date: dt.date, queued: int, now: dt.datetime
) -> None:
    """Note that the plan for this local date has run (again, if it had)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(PlanningRun).values(
        local_date=local_date, finished_at=now, queued=queued
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["local_date"],
            set_={"finished_at": now, "queued": PlanningRun.queued + queued},
        )
    )


async def has_run(session: AsyncSession, local_date: dt.date) -> bool:
    """Whether the plan for this local date has run."""
    found = await session.scalar(
        select(PlanningRun.local_date).where(PlanningRun.local_date == local_date)
    )
    return found is not None


def local_today(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The council's date at this moment."""
    return now.astimezone(zone).date()


def is_past(now: dt.datetime, zone: ZoneInfo, at: dt.time) -> bool:
    """Whether today's planning time has passed, in local time."""
    return now.astimezone(zone).time() >= at


async def plan_day(
    session: AsyncSession,
    now: dt.datetime,
    zone: ZoneInfo,
    quiet: QuietHours | None = None,
) -> PlanResult:
    """Queue today's week messages, "near you" messages and overdue check-ins, then record it."""
    today = local_today(now, zone)
    # Planned at night (a late restart), the rows wait for the morning rather than the engine.
    run = _Run(today, now, (quiet or QuietHours(zone)).next_send_time(now))
    # A withdrawal whose cancel ran before our rows existed would miss them. So on PostgreSQL
    # the plan holds this lock until it commits, and a withdrawal takes it before cancelling:
    # it then waits for the plan and cancels what the plan queued. (A withdrawal committed
    # before the plan starts is simply not planned for. SQLite runs one writer at a time.) The
    # same lock makes a second process's plan wait, then find nothing new to queue.
    await _lock_against_withdrawals(session)
    weeks = await _queue_weeks(session, run)
    services = await _queue_services(session, run)
    checkins = await _queue_checkins(session, run)
    await record_run(session, today, weeks + services + checkins, now)
    return PlanResult(today, weeks, services, checkins)


async def cancel_local_info(session: AsyncSession, resident_id: int) -> int:
    """She withdrew the local-information consent: cancel what is queued for her, at once."""
    # Waits for a plan in progress (see plan_day), so nothing it queues for her slips through.
    await _lock_against_withdrawals(session)
    return await queue.cancel_open(session, resident_id=resident_id, kinds=LOCAL_INFO_KINDS)
