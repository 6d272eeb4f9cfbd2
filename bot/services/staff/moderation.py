"""Moderation: residents' reports about matches, and what moderators decide (warn, suspend).

Reports are stored by matching (match_reports); decisions are stored here, against the reported
resident, and cascade with her row (a suspension in force is kept apart first, as a safeguarding
record, so erasing herself does not lift it: see safeguarding.py). A suspension keeps her out
of matching until lifted: it also pauses her matching (residents.matching_paused_at), which the
search reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.delivery import kinds, queue
from bot.delivery.queue import NewDelivery
from bot.services.matching.suggestions import pause_matching
from bot.services.staff.audit import Actor, record
from models import MatchReport, ModerationAction, ModerationDecision, Resident, StaffMember

DECISIONS = (ModerationAction.WARN, ModerationAction.SUSPEND, ModerationAction.DISMISS)
PAGE = 5
# A notice that follows a report within minutes of a conversation tells her who reported her,
# when she has talked to only one person. So it is sent no sooner than this after the report
# (and by day, through the delivery engine), and its words name no one and no report.
NOTICE_GAP = dt.timedelta(days=3)
NOTICE = kinds.MODERATION_NOTICE


@dataclass(frozen=True)
class OpenReport:
    """A report no moderator has decided on yet, with what a moderator needs to judge it."""

    report_id: int
    created_at: dt.datetime
    reason: str | None
    reported_name: str | None
    reports_against: int
    earlier_warnings: int
    suspended: bool


@dataclass(frozen=True)
class Decided:
    """A decision made: whom it was about (to warn her), and its action."""

    action: ModerationAction
    telegram_user_id: int
    language_code: str
    resident_id: int
    decision_id: int
    reported_at: dt.datetime


def _decided(report_id: object) -> ColumnElement[bool]:
    return exists(select(ModerationDecision.id).where(ModerationDecision.report_id == report_id))


def not_suspended_from_matching(resident: Any = Resident) -> ColumnElement[bool]:
    """SQL for residents (or an alias of them): not suspended (latest suspend/lift isn't one)."""
    latest = aliased(ModerationDecision)
    newer = aliased(ModerationDecision)
    suspensions = (ModerationAction.SUSPEND, ModerationAction.LIFT)
    return ~exists(
        select(latest.id).where(
            latest.resident_id == resident.id,
            latest.action == ModerationAction.SUSPEND,
            ~exists(
                select(newer.id).where(
                    newer.resident_id == latest.resident_id,
                    newer.action.in_(suspensions),
                    newer.id > latest.id,
                )
            ),
        )
    )


async def is_suspended_from_matching(session: AsyncSession, resident_id: int) -> bool:
    """Whether a moderator has suspended her from matching (and not lifted it)."""
    allowed = await session.scalar(
        select(not_suspended_from_matching())
        .select_from(Resident)
        .where(Resident.id == resident_id)
    )
    return allowed is False


async def current_suspension(session: AsyncSession, resident_id: int) -> ModerationDecision | None:
    """The suspension in force on her (the latest, not lifted since), if there is one."""
    if not await is_suspended_from_matching(session, resident_id):
        return None
    return await session.scalar(
        select(ModerationDecision)
        .where(
            ModerationDecision.resident_id == resident_id,
            ModerationDecision.action == ModerationAction.SUSPEND,
        )
        .order_by(ModerationDecision.id.desc())
        .limit(1)
    )


async def open_reports(session: AsyncSession) -> list[OpenReport]:
    """The oldest reports still waiting for a decision."""
    counted = aliased(MatchReport)
    against = (
        select(func.count(counted.id)).where(counted.reported_id == Resident.id).scalar_subquery()
    )
    warnings = (
        select(func.count(ModerationDecision.id))
        .where(
            ModerationDecision.resident_id == Resident.id,
            ModerationDecision.action == ModerationAction.WARN,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            MatchReport.id,
            MatchReport.created_at,
            MatchReport.reason,
            Resident.display_name,
            against,
            warnings,
            not_suspended_from_matching(),
        )
        .join(Resident, Resident.id == MatchReport.reported_id)
        .where(~_decided(MatchReport.id))
        .order_by(MatchReport.id)
        .limit(PAGE)
    )
    return [OpenReport(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), not r[6]) for r in rows]


async def decide(
    session: AsyncSession,
    member: StaffMember,
    report_id: int,
    action: ModerationAction,
    now: dt.datetime,
) -> Decided | None:
    """Record a moderator's decision on a report; None if it's gone or already decided."""
    if action not in DECISIONS:
        raise ValueError(f"{action} is not a decision on a report")
    report = await session.get(MatchReport, report_id, with_for_update=True)
    if report is None or await session.scalar(select(_decided(report_id))):
        record(
            session,
            now,
            Actor(member.telegram_user_id, member.role.value),
            f"moderation.{action.value}",
            f"report:{report_id}",
            "refused",
            "gone or already decided",
        )
        return None
    reported = await session.get(Resident, report.reported_id)
    assert reported is not None  # the report cascades with her row
    decision = ModerationDecision(
        resident_id=reported.id,
        report_id=report_id,
        action=action,
        staff_id=member.id,
        at=now,
    )
    session.add(decision)
    await session.flush()
    if action is ModerationAction.SUSPEND:
        await pause_matching(session, reported.id, now)
    record(
        session,
        now,
        Actor(member.telegram_user_id, member.role.value),
        f"moderation.{action.value}",
        # Pseudonymous: the person_ref survives her erasure only in the consent record.
        f"report:{report_id} person:{reported.person_ref}",
        "ok",
    )
    return Decided(
        action,
        reported.telegram_user_id,
        reported.language_code,
        reported.id,
        decision.id,
        report.created_at,
    )


async def queue_notice(
    session: AsyncSession,
    decided: Decided,
    text: str,
    now: dt.datetime,
    *,
    template: str | None = None,
    params: dict[str, Any] | None = None,
) -> dt.datetime:
    """Queue her notice of a warning or suspension; returns the earliest it may go out.

    `template` and `params` word it again in her language when it is sent.
    """
    not_before = max(now, decided.reported_at + NOTICE_GAP)
    key = f"{NOTICE}:{decided.decision_id}"
    notice = NewDelivery(
        decided.resident_id, key, key, NOTICE, text, not_before, template=template, params=params
    )
    await queue.enqueue(session, [notice], now)
    return not_before


async def decisions_about(session: AsyncSession, resident_id: int) -> list[ModerationDecision]:
    """Every decision about her, oldest first (for /mydata)."""
    result = await session.scalars(
        select(ModerationDecision)
        .where(ModerationDecision.resident_id == resident_id)
        .order_by(ModerationDecision.id)
    )
    return list(result)


async def export_moderation(session: AsyncSession, resident_id: int) -> list[dict[str, object]]:
    """Moderators' decisions about her, for /mydata (which staff member decided is not hers)."""
    return [
        {"decision": decision.action.value, "at": decision.at.isoformat()}
        for decision in await decisions_about(session, resident_id)
    ]
