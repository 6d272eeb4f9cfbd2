"""Leaving matching, blocking and reporting: each ends what was open, at once and quietly."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import kinds, queue
from bot.services.matching.outbox import (
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
    # She had just reported this person: no second report was filed.
    already: bool = False


async def _take_back_what_shows(session: AsyncSession, resident_id: int) -> None:
    """Owe the others a retraction of every card and request of hers, whatever its state.

    A lapsed card or an answered request still shows her name, ward and due month. Each
    message is taken back once: its id is forgotten as the retraction is owed.
    """
    cards = await session.execute(
        select(MatchSuggestion.id, MatchSuggestion.viewer_id, MatchSuggestion.card_message_id)
        .where(
            MatchSuggestion.candidate_id == resident_id,
            MatchSuggestion.card_message_id.is_not(None),
        )
        .order_by(MatchSuggestion.id)
    )
    card_ids = []
    for card_id, viewer_id, message_id in cards.all():
        owe(session, viewer_id, OutboxKind.RETRACT_CARD, message_id)
        card_ids.append(card_id)
    # Requests go through the delivery engine: one still queued is cancelled, a sent one taken
    # back by the Telegram id on its delivery row (or on the introduction, for older ones).
    requests = await session.execute(
        select(
            MatchIntroduction.id,
            MatchIntroduction.created_at,
            MatchIntroduction.recipient_id,
            MatchIntroduction.request_message_id,
        )
        .where(MatchIntroduction.requester_id == resident_id)
        .order_by(MatchIntroduction.id)
    )
    request_ids = []
    for request_id, created_at, recipient_id, message_id in requests.all():
        await take_back_request(session, recipient_id, request_id, created_at, message_id)
        request_ids.append(request_id)
    if card_ids:
        await session.execute(
            update(MatchSuggestion)
            .where(MatchSuggestion.id.in_(card_ids))
            .values(card_message_id=None)
        )
    if request_ids:
        await session.execute(
            update(MatchIntroduction)
            .where(MatchIntroduction.id.in_(request_ids))
            .values(request_message_id=None)
        )
    # Re-sent requests are noted as mentions rather than on the introduction row.
    await owe_mentions_of(session, resident_id, (OutboxKind.RETRACT_REQUEST,))


async def _end_suggestions_of(session: AsyncSession, resident_id: int) -> None:
    """Close every open card she is shown or shows."""
    await session.execute(
        update(MatchSuggestion)
        .where(
            or_(
                MatchSuggestion.candidate_id == resident_id,
                MatchSuggestion.viewer_id == resident_id,
            ),
            MatchSuggestion.status == SuggestionStatus.OPEN,
        )
        .values(status=SuggestionStatus.WITHDRAWN)
    )


async def _cancel_requests_of(session: AsyncSession, resident_id: int, now: dt.datetime) -> None:
    """End her unanswered requests both ways; anyone who asked her hears 'not this time'."""
    cancelled = await session.execute(
        update(MatchIntroduction)
        .where(
            MatchIntroduction.recipient_id == resident_id,
            MatchIntroduction.status == IntroductionStatus.REQUESTED,
        )
        .values(status=IntroductionStatus.CANCELLED, decided_at=now)
        .returning(MatchIntroduction.requester_id)
    )
    for (requester_id,) in cancelled.all():
        owe(session, requester_id, OutboxKind.NOT_THIS_TIME)
    await session.execute(
        update(MatchIntroduction)
        .where(
            MatchIntroduction.requester_id == resident_id,
            MatchIntroduction.status == IntroductionStatus.REQUESTED,
        )
        .values(status=IntroductionStatus.CANCELLED, decided_at=now)
    )


async def withdraw_from_matching(session: AsyncSession, resident_id: int, now: dt.datetime) -> None:
    """She withdrew matching consent: out of every list at once, and her open requests end.

    Every card and request showing her is taken back from the others' chats, as for /forget.
    Introductions already made stay: both agreed, and each already has the other's contact.
    """
    await _take_back_what_shows(session, resident_id)
    await _end_suggestions_of(session, resident_id)
    await _cancel_requests_of(session, resident_id, now)
    # Nothing about matching that is still queued for her goes out after she said no.
    await queue.cancel_open(session, resident_id=resident_id, kinds=kinds.MATCHING)
    await session.execute(
        delete(NewcomerNews).where(
            or_(NewcomerNews.newcomer_id == resident_id, NewcomerNews.recipient_id == resident_id)
        )
    )


async def prepare_erasure(session: AsyncSession, resident_id: int) -> None:
    """Before /forget deletes her row: owe the others a tidy chat with no trace of her in it.

    What withdrawing takes back (every card and request showing her), and also the
    introduction messages and lists that name her; anyone still waiting on her answer hears
    'not this time'. The rows themselves go with her row (ON DELETE CASCADE).
    """
    await _take_back_what_shows(session, resident_id)
    await owe_mentions_of(session, resident_id, tuple(OutboxKind))
    introductions = await session.execute(
        select(
            MatchIntroduction.id,
            MatchIntroduction.requester_id,
            MatchIntroduction.recipient_id,
            MatchIntroduction.status,
            MatchIntroduction.requester_intro_message_id,
            MatchIntroduction.recipient_intro_message_id,
        ).where(
            or_(
                MatchIntroduction.requester_id == resident_id,
                MatchIntroduction.recipient_id == resident_id,
            )
        )
    )
    # Her own requests were taken back above, with every card and request showing her.
    for intro_id, requester, recipient, status, requester_msg, recipient_msg in introductions:
        if requester == resident_id:
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


async def subject_name(
    session: AsyncSession, resident_id: int, subject: Subject, subject_id: int
) -> str | None:
    """The name on a block or report button she pressed; None if the button was not hers."""
    other = await _other_party(session, resident_id, subject, subject_id)
    found = await session.get(Resident, other) if other is not None else None
    return (found.display_name or "") if found is not None else None


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
    """Keep a report for the moderators (and block); None if the button was not hers.

    A second press within the hour (a double tap, an old confirmation) files nothing new.
    """
    blocked = await block(session, resident_id, subject, subject_id, now)
    if blocked is None:
        return None
    recent = await session.scalar(
        select(MatchReport.id)
        .where(
            MatchReport.reporter_id == resident_id,
            MatchReport.reported_id == blocked.other_id,
            MatchReport.created_at > now - REASON_WINDOW,
        )
        .order_by(MatchReport.id.desc())
        .limit(1)
    )
    if recent is not None:
        return SafetyOutcome(other_id=blocked.other_id, report_id=recent, already=True)
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
