"""Leaving matching, blocking and reporting: each ends what was open, at once and quietly."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import kinds, queue
from bot.services.matching_outbox import (
    introduction_key,
    owe,
    owe_mentions_of,
    take_back,
    take_back_request,
)
from models import (
    IntroductionStatus,
    MatchBlock,
    MatchIntroduction,
    MatchReport,
    MatchSuggestion,
    NewcomerNews,
    OutboxKind,
    Resident,
    SuggestionStatus,
)

REASON_MAX = 500
# A reason typed long after the report is more likely meant for something else.
REASON_WINDOW = dt.timedelta(hours=1)


class Subject(enum.StrEnum):
    """What a block or report button was on: a suggestion card or an introduction message."""

    SUGGESTION = "s"
    INTRODUCTION = "i"


@dataclass(frozen=True)
class SafetyOutcome:
    """What a block or report did: the other person, and the report's id when there is one."""

    other_id: int
    report_id: int | None = None


async def _end_suggestions_of(session: AsyncSession, resident_id: int) -> None:
    """Close every open card she is shown or shows, and take hers back from others' chats."""
    shown_to_others = await session.execute(
        update(MatchSuggestion)
        .where(
            MatchSuggestion.candidate_id == resident_id,
            MatchSuggestion.status == SuggestionStatus.OPEN,
        )
        .values(status=SuggestionStatus.WITHDRAWN)
        .returning(MatchSuggestion.viewer_id, MatchSuggestion.card_message_id)
    )
    for viewer_id, message_id in shown_to_others.all():
        owe(session, viewer_id, OutboxKind.RETRACT_CARD, message_id)
    await session.execute(
        update(MatchSuggestion)
        .where(
            MatchSuggestion.viewer_id == resident_id,
            MatchSuggestion.status == SuggestionStatus.OPEN,
        )
        .values(status=SuggestionStatus.WITHDRAWN)
    )


async def _cancel_requests_of(session: AsyncSession, resident_id: int, now: dt.datetime) -> None:
    """End her unanswered requests both ways: hers are taken back, theirs 'did not work out'."""
    cancelled = await session.execute(
        update(MatchIntroduction)
        .where(
            or_(
                MatchIntroduction.requester_id == resident_id,
                MatchIntroduction.recipient_id == resident_id,
            ),
            MatchIntroduction.status == IntroductionStatus.REQUESTED,
        )
        .values(status=IntroductionStatus.CANCELLED, decided_at=now)
        .returning(
            MatchIntroduction.id,
            MatchIntroduction.created_at,
            MatchIntroduction.requester_id,
            MatchIntroduction.recipient_id,
            MatchIntroduction.request_message_id,
        )
    )
    for intro_id, created_at, requester_id, recipient_id, message_id in cancelled.all():
        if requester_id == resident_id:
            await take_back_request(session, recipient_id, intro_id, created_at, message_id)
        else:
            owe(session, requester_id, OutboxKind.NOT_THIS_TIME)


async def withdraw_from_matching(session: AsyncSession, resident_id: int, now: dt.datetime) -> None:
    """She withdrew matching consent: out of every list at once, and her open requests end.

    Introductions already made stay: both agreed, and each already has the other's contact.
    """
    await _end_suggestions_of(session, resident_id)
    await _cancel_requests_of(session, resident_id, now)
    # Nothing about matching that is still queued for her goes out after she said no.
    await queue.cancel_open(session, resident_id=resident_id, kinds=kinds.MATCHING)
    await owe_mentions_of(session, resident_id, (OutboxKind.RETRACT_REQUEST,))
    await session.execute(
        delete(NewcomerNews).where(
            or_(NewcomerNews.newcomer_id == resident_id, NewcomerNews.recipient_id == resident_id)
        )
    )


async def prepare_erasure(session: AsyncSession, resident_id: int) -> None:
    """Before /forget deletes her row: owe the others a tidy chat with no trace of her in it.

    Every card, request and introduction message that shows her in someone else's chat is taken
    back, and anyone still waiting on her answer hears 'not this time'. The rows themselves go
    with her row (ON DELETE CASCADE).
    """
    await owe_mentions_of(session, resident_id, tuple(OutboxKind))
    cards = await session.execute(
        select(MatchSuggestion.viewer_id, MatchSuggestion.card_message_id).where(
            MatchSuggestion.candidate_id == resident_id
        )
    )
    for viewer_id, message_id in cards.all():
        owe(session, viewer_id, OutboxKind.RETRACT_CARD, message_id)
    introductions = await session.execute(
        select(
            MatchIntroduction.id,
            MatchIntroduction.created_at,
            MatchIntroduction.requester_id,
            MatchIntroduction.recipient_id,
            MatchIntroduction.status,
            MatchIntroduction.request_message_id,
            MatchIntroduction.requester_intro_message_id,
            MatchIntroduction.recipient_intro_message_id,
        ).where(
            or_(
                MatchIntroduction.requester_id == resident_id,
                MatchIntroduction.recipient_id == resident_id,
            )
        )
    )
    for row in introductions.all():
        intro_id, created_at, requester, recipient, status = row[:5]
        request_id, requester_msg, recipient_msg = row[5:]
        if requester == resident_id:
            await take_back_request(session, recipient, intro_id, created_at, request_id)
            other, message = recipient, recipient_msg
        else:
            other, message = requester, requester_msg
            if status is IntroductionStatus.REQUESTED:
                owe(session, other, OutboxKind.NOT_THIS_TIME)
        if status is IntroductionStatus.INTRODUCED:
            await take_back(
                session,
                other,
                OutboxKind.RETRACT_INTRODUCTION,
                message,
                introduction_key(intro_id),
            )


async def _other_party(
    session: AsyncSession, resident_id: int, subject: Subject, subject_id: int
) -> int | None:
    """Who the button was about, if the button really was hers."""
    if subject is Subject.SUGGESTION:
        suggestion = await session.get(MatchSuggestion, subject_id)
        if suggestion is None or suggestion.viewer_id != resident_id:
            return None
        return suggestion.candidate_id
    intro = await session.get(MatchIntroduction, subject_id)
    if intro is None or resident_id not in (intro.requester_id, intro.recipient_id):
        return None
    return intro.recipient_id if intro.requester_id == resident_id else intro.requester_id


async def _part_ways(session: AsyncSession, me: int, other: int, now: dt.datetime) -> None:
    """End what is open between two people without telling the other anything new.

    A request from her to me ends like a 'no thanks' would; a request from me to her simply
    stops working. Open cards between us close.
    """
    between = or_(
        (MatchSuggestion.viewer_id == me) & (MatchSuggestion.candidate_id == other),
        (MatchSuggestion.viewer_id == other) & (MatchSuggestion.candidate_id == me),
    )
    await session.execute(
        update(MatchSuggestion)
        .where(between, MatchSuggestion.status == SuggestionStatus.OPEN)
        .values(status=SuggestionStatus.WITHDRAWN)
    )
    cancelled = await session.execute(
        update(MatchIntroduction)
        .where(
            or_(
                (MatchIntroduction.requester_id == me) & (MatchIntroduction.recipient_id == other),
                (MatchIntroduction.requester_id == other) & (MatchIntroduction.recipient_id == me),
            ),
            MatchIntroduction.status == IntroductionStatus.REQUESTED,
        )
        .values(status=IntroductionStatus.DECLINED, decided_at=now)
        .returning(MatchIntroduction.requester_id)
    )
    for (requester_id,) in cancelled.all():
        if requester_id == other:
            owe(session, other, OutboxKind.NOT_THIS_TIME)


async def block(
    session: AsyncSession, resident_id: int, subject: Subject, subject_id: int, now: dt.datetime
) -> SafetyOutcome | None:
    """She never wants to be matched with this person; None if the button was not hers."""
    other = await _other_party(session, resident_id, subject, subject_id)
    if other is None or await session.get(Resident, other) is None:
        return None
    already = await session.get(MatchBlock, (resident_id, other))
    if already is None:
        session.add(MatchBlock(blocker_id=resident_id, blocked_id=other, created_at=now))
    await _part_ways(session, resident_id, other, now)
    await session.flush()
    return SafetyOutcome(other_id=other)


async def report(
    session: AsyncSession, resident_id: int, subject: Subject, subject_id: int, now: dt.datetime
) -> SafetyOutcome | None:
    """Keep a report for the moderators (and block); None if the button was not hers."""
    blocked = await block(session, resident_id, subject, subject_id, now)
    if blocked is None:
        return None
    filed = MatchReport(reporter_id=resident_id, reported_id=blocked.other_id, created_at=now)
    session.add(filed)
    await session.flush()
    return SafetyOutcome(other_id=blocked.other_id, report_id=filed.id)


def clean_reason(text: str) -> str | None:
    """A typed reason as stored: control characters dropped, spaces tidied, at most 500."""
    kept = "".join(ch for ch in text if ch.isprintable() or ch == "\n")
    reason = " ".join(kept.split())
    return reason[:REASON_MAX] or None


async def add_report_reason(
    session: AsyncSession, resident_id: int, report_id: int, reason: str, now: dt.datetime
) -> bool:
    """Add her reason to her own recent report; False if it is not hers or already has one."""
    cleaned = clean_reason(reason)
    if cleaned is None:
        return False
    result = await session.execute(
        update(MatchReport)
        .where(
            MatchReport.id == report_id,
            MatchReport.reporter_id == resident_id,
            MatchReport.reason.is_(None),
            MatchReport.created_at > now - REASON_WINDOW,
        )
        .values(reason=cleaned, reason_added_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
