"""Moderation: residents' reports about matches, and what moderators decide (warn, suspend).

Reports are stored by matching (match_reports); decisions are stored here, against the reported
resident, and cascade with her row. A suspension keeps her out of matching until lifted:
a suspension also pauses her matching (residents.matching_paused_at), which the search reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.matching import pause_matching
from bot.services.staff_audit import Actor, record
from models import MatchReport, ModerationAction, ModerationDecision, Resident, StaffMember

DECISIONS = (ModerationAction.WARN, ModerationAction.SUSPEND, ModerationAction.DISMISS)
PAGE = 5


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
    session.add(
        ModerationDecision(
            resident_id=reported.id,
            report_id=report_id,
            action=action,
            staff_id=member.id,
            at=now,
        )
    )
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
    return Decided(action, reported.telegram_user_id, reported.language_code, reported.id)


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
