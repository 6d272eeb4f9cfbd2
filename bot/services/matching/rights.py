"""Her matching data for /mydata: what she did and what was done with her details.

Other people's details appear only where she was already given them: the name of someone she was
introduced to. Who saw her card, and anything others did about her, stays theirs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    CohortGroup,
    CohortInvite,
    IntroductionStatus,
    MatchBlock,
    MatchIntroduction,
    MatchReport,
    MatchSuggestion,
    NewcomerDigest,
    Resident,
    SafeguardingRecord,
)


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_matching(session: AsyncSession, resident_id: int) -> dict[str, Any]:
    """Everything matching holds about her, as JSON-ready values."""
    me = await session.get(Resident, resident_id)
    assert me is not None
    shown_to_her = await session.execute(
        select(MatchSuggestion.created_at, MatchSuggestion.status)
        .where(MatchSuggestion.viewer_id == resident_id)
        .order_by(MatchSuggestion.id)
    )
    suggested_to_others = await session.scalar(
        select(func.count()).where(MatchSuggestion.candidate_id == resident_id)
    )
    introductions = await session.execute(
        select(MatchIntroduction, Resident.display_name)
        .join(
            Resident,
            Resident.id
            == func.coalesce(
                func.nullif(MatchIntroduction.requester_id, resident_id),
                MatchIntroduction.recipient_id,
            ),
        )
        .where(
            or_(
                MatchIntroduction.requester_id == resident_id,
                MatchIntroduction.recipient_id == resident_id,
            )
        )
        .order_by(MatchIntroduction.id)
    )
    blocks = await session.scalars(
        select(MatchBlock.created_at).where(MatchBlock.blocker_id == resident_id)
    )
    reports = await session.execute(
        select(MatchReport.created_at, MatchReport.reason)
        .where(MatchReport.reporter_id == resident_id)
        .order_by(MatchReport.id)
    )
    invites = await session.execute(
        select(CohortGroup.title, CohortInvite)
        .join(CohortGroup, CohortGroup.id == CohortInvite.group_id)
        .where(CohortInvite.resident_id == resident_id)
        .order_by(CohortInvite.id)
    )
    digest = await session.get(NewcomerDigest, resident_id)
    # Blocks and reports she made about someone who has since erased herself, kept for
    # safeguarding under keyed hashes until she erases her own data (only hers: never whom).
    kept = (
        await session.execute(
            select(
                SafeguardingRecord.kind,
                SafeguardingRecord.happened_at,
                SafeguardingRecord.reason,
            )
            # A resident with no key yet has no record naming her: NULL matches nothing.
            .where(SafeguardingRecord.other_key == me.safeguarding_key)
            .order_by(SafeguardingRecord.id)
        )
    ).all()
    return {
        "taking_part": me.matching_consent,
        "last_used_matching_at": _iso(me.last_active_at),
        "suggestions_shown_to_you": [
            {"shown_at": _iso(at), "status": status.value} for at, status in shown_to_her
        ],
        "times_you_were_suggested_to_others": suggested_to_others or 0,
        "introductions": [
            {
                "you_asked": intro.requester_id == resident_id,
                "status": intro.status.value,
                "asked_at": _iso(intro.created_at),
                "answered_at": _iso(intro.decided_at),
                # Only someone she was introduced to is named: she already has their contact.
                "with": name if intro.status is IntroductionStatus.INTRODUCED else None,
            }
            for intro, name in introductions
        ],
        "people_you_blocked": [{"at": _iso(at)} for at in blocks],
        "reports_you_made": [{"at": _iso(at), "reason": reason} for at, reason in reports],
        "group_invite_links": [
            {
                "group": title,
                "link": invite.invite_link,
                "made_at": _iso(invite.created_at),
                "expires_at": _iso(invite.expires_at),
            }
            for title, invite in invites
        ],
        "last_new_mums_message_on": _iso(digest.sent_on) if digest else None,
        "kept_for_safeguarding": [
            {"what": kind.value, "at": _iso(at), "reason": reason} for kind, at, reason in kept
        ],
    }
