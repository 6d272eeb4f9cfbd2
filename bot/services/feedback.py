"""Feedback from residents, and asking for it kindly at moments that matter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.delivery.quiet_hours import QuietHours
from bot.services.residents import profile as residents
from bot.services.residents.consent import ConsentContext
from bot.services.residents.due_dates import gestation
from bot.services.residents.profile import NotSignedUp
from models import (
    ConsentEvent,
    ConsentPurpose,
    FeedbackComment,
    FeedbackMoment,
    FeedbackPrompt,
    FeedbackResponse,
    Loneliness,
    PromptStatus,
    Resident,
    ResidentStatus,
    StageBand,
    UTCDateTime,
)

COMMENT_MAX = 2000
SERVICE_REF_MAX = 64
# Never ask more often than this, counting both our questions and feedback she sent herself.
PROMPT_GAP = dt.timedelta(days=14)
TWO_WEEKS_IN = dt.timedelta(days=14)
# A question we could not ask kindly within this long after its moment is dropped: asking
# "how was your introduction?" a month late would feel odd.
PROMPT_EXPIRES_AFTER = dt.timedelta(days=21)
# When each moment's question becomes due, after the moment itself.
MOMENT_DELAY: dict[FeedbackMoment, dt.timedelta] = {
    FeedbackMoment.TWO_WEEKS: dt.timedelta(0),
    FeedbackMoment.AFTER_INTRODUCTION: dt.timedelta(days=7),
    # Time to settle in with the baby before we ask anything.
    FeedbackMoment.AFTER_BIRTH: dt.timedelta(days=14),
}
PROMPT_BATCH = 500


@dataclass(frozen=True)
class DuePrompt:
    """A question claimed for sending now."""

    prompt_id: int
    moment: FeedbackMoment
    telegram_user_id: int
    language_code: str
    resident_id: int


def clean_service_ref(text: str | None) -> str | None:
    """A directory reference as stored: letters, digits, '_' and '-', or None if unusable."""
    if not text:
        return None
    if len(text) > SERVICE_REF_MAX or not all(
        ch.isascii() and (ch.isalnum() or ch in "_-") for ch in text
    ):
        return None
    return text


def stage_band(due_date: dt.date | None, today: dt.date) -> StageBand:
    """Her pregnancy stage as a band: trimesters, then after the due date."""
    if due_date is None:
        return StageBand.UNKNOWN
    if today > due_date:
        return StageBand.AFTER_DUE_DATE
    weeks, _ = gestation(due_date, today)
    if weeks < 13:
        return StageBand.FIRST_TRIMESTER
    if weeks < 28:
        return StageBand.SECOND_TRIMESTER
    return StageBand.THIRD_TRIMESTER


def _feedback_consent_granted(person_ref: Any) -> ColumnElement[bool]:
    """Her latest choice about feedback is yes (the consent record is append-only)."""
    # Aliases keep the two consent subqueries apart; each correlates only one level up.
    choice, later = aliased(ConsentEvent), aliased(ConsentEvent)
    superseded = exists().where(
        later.person_ref == choice.person_ref,
        later.purpose == ConsentPurpose.FEEDBACK,
        later.id > choice.id,
    )
    return exists().where(
        choice.person_ref == person_ref,
        choice.purpose == ConsentPurpose.FEEDBACK,
        choice.granted.is_(True),
        ~superseded,
    )


def _now(value: dt.datetime) -> ColumnElement[dt.datetime]:
    return literal(value, UTCDateTime())


async def _active_resident(session: AsyncSession, telegram_user_id: int) -> Resident:
    resident = await residents.find_resident(session, telegram_user_id)
    if resident is None or resident.status is not ResidentStatus.ACTIVE:
        raise NotSignedUp
    return resident


async def can_give_feedback(session: AsyncSession, telegram_user_id: int) -> bool:
    """Whether she has finished signing up (feedback describes the service she is using)."""
    try:
        await _active_resident(session, telegram_user_id)
    except NotSignedUp:
        return False
    return True


async def record_rating(
    session: AsyncSession,
    telegram_user_id: int,
    rating: int,
    *,
    now: dt.datetime,
    today: dt.date,
    moment: FeedbackMoment = FeedbackMoment.ANYTIME,
    service_ref: str | None = None,
) -> int:
    """Store her rating (1 to 5) with the month, her district and stage band; returns its id."""
    if not 1 <= rating <= 5:
        raise ValueError("ratings run from 1 to 5")
    resident = await _active_resident(session, telegram_user_id)
    response = FeedbackResponse(
        resident_id=resident.id,
        moment=moment,
        rating=rating,
        service_ref=clean_service_ref(service_ref),
        district_code=resident.district_code,
        stage_band=stage_band(resident.due_date, today),
        created_at=now,
    )
    session.add(response)
    await session.flush()
    return response.id


async def record_loneliness(
    session: AsyncSession, telegram_user_id: int, response_id: int, answer: Loneliness
) -> bool:
    """Add her loneliness answer to her own rating; False if that rating isn't hers."""
    resident = await _active_resident(session, telegram_user_id)
    result = await session.execute(
        update(FeedbackResponse)
        .where(FeedbackResponse.id == response_id, FeedbackResponse.resident_id == resident.id)
        .values(loneliness=answer)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_comment(
    session: AsyncSession,
    telegram_user_id: int,
    text: str,
    *,
    now: dt.datetime,
    service_ref: str | None = None,
) -> None:
    """Keep her words on their own: no rating, district or stage is stored beside them."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > COMMENT_MAX:
        raise ValueError("comments are checked for length before they are stored")
    resident = await _active_resident(session, telegram_user_id)
    session.add(
        FeedbackComment(
            resident_id=resident.id,
            text=cleaned,
            service_ref=clean_service_ref(service_ref),
            created_at=now,
        )
    )


async def _own_sent_prompt(
    session: AsyncSession, telegram_user_id: int, prompt_id: int
) -> FeedbackPrompt | None:
    """The prompt, only if it is hers and still waiting for an answer."""
    result = await session.scalars(
        select(FeedbackPrompt)
        .join(Resident, Resident.id == FeedbackPrompt.resident_id)
        .where(
            FeedbackPrompt.id == prompt_id,
            Resident.telegram_user_id == telegram_user_id,
            FeedbackPrompt.status == PromptStatus.SENT,
        )
    )
    return result.one_or_none()


async def answer_prompt(
    session: AsyncSession,
    telegram_user_id: int,
    prompt_id: int,
    rating: int,
    *,
    now: dt.datetime,
    today: dt.date,
) -> int | None:
    """Her rating in answer to a question we asked; None if the question isn't hers or is done."""
    prompt = await _own_sent_prompt(session, telegram_user_id, prompt_id)
    if prompt is None:
        return None
    prompt.status = PromptStatus.ANSWERED
    prompt.updated_at = now
    return await record_rating(
        session, telegram_user_id, rating, now=now, today=today, moment=prompt.moment
    )


async def skip_prompt(
    session: AsyncSession, telegram_user_id: int, prompt_id: int, now: dt.datetime
) -> bool:
    """She'd rather not answer this time; False if the question isn't hers or is done."""
    prompt = await _own_sent_prompt(session, telegram_user_id, prompt_id)
    if prompt is None:
        return False
    prompt.status = PromptStatus.SKIPPED
    prompt.updated_at = now
    return True


async def stop_asking(
    session: AsyncSession, telegram_user_id: int, prompt_id: int, evidence: ConsentContext
) -> bool:
    """Withdraw her feedback consent from a question's button; False if the button isn't hers."""
    prompt = await _own_sent_prompt(session, telegram_user_id, prompt_id)
    if prompt is None:
        return False
    prompt.status = PromptStatus.SKIPPED
    prompt.updated_at = evidence.now
    await residents.set_consent(session, telegram_user_id, ConsentPurpose.FEEDBACK, False, evidence)
    await session.execute(
        update(FeedbackPrompt)
        .where(
            FeedbackPrompt.resident_id == prompt.resident_id,
            FeedbackPrompt.status == PromptStatus.PENDING,
        )
        .values(status=PromptStatus.CANCELLED, updated_at=evidence.now)
    )
    return True


async def note_feedback_moment(
    session: AsyncSession, resident_id: int, moment: FeedbackMoment, now: dt.datetime
) -> bool:
    """A moment that matters happened (an introduction, the birth): plan a feedback question.

    Other features call this when the moment happens; the question becomes due after
    MOMENT_DELAY and is sent by the hourly job only while she keeps the feedback consent, outside
    quiet hours and at most once a fortnight. Returns False when nothing was planned: no consent,
    or the same question is already waiting. The after-birth wording congratulates her: never
    note that moment for a pregnancy that ended in loss.
    """
    if moment not in MOMENT_DELAY:
        raise ValueError(f"{moment} is not a moment we ask about")
    allowed = await session.scalar(
        select(_feedback_consent_granted(Resident.person_ref)).where(Resident.id == resident_id)
    )
    if not allowed:
        return False
    waiting = await session.scalar(
        select(
            exists().where(
                FeedbackPrompt.resident_id == resident_id,
                FeedbackPrompt.moment == moment,
                FeedbackPrompt.status == PromptStatus.PENDING,
            )
        )
    )
    if waiting:
        return False
    session.add(
        FeedbackPrompt(
            resident_id=resident_id,
            moment=moment,
            status=PromptStatus.PENDING,
            due_at=now + MOMENT_DELAY[moment],
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    return True


async def plan_two_week_prompts(session: AsyncSession, now: dt.datetime) -> int:
    """Plan "two weeks in" questions for everyone who reached that point; returns how many."""
    asked_before = exists().where(
        FeedbackPrompt.resident_id == Resident.id,
        FeedbackPrompt.moment == FeedbackMoment.TWO_WEEKS,
    )
    due = select(
        Resident.id,
        literal(FeedbackMoment.TWO_WEEKS.value),
        literal(PromptStatus.PENDING.value),
        _now(now),
        _now(now),
        _now(now),
    ).where(
        Resident.status == ResidentStatus.ACTIVE,
        Resident.onboarded_at <= now - TWO_WEEKS_IN,
        # Those who joined long before are past the moment; two weeks in is not now.
        Resident.onboarded_at > now - TWO_WEEKS_IN - PROMPT_EXPIRES_AFTER,
        ~asked_before,
        _feedback_consent_granted(Resident.person_ref),
    )
    result = await session.execute(
        insert(FeedbackPrompt).from_select(
            ["resident_id", "moment", "status", "due_at", "created_at", "updated_at"], due
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def retire_prompts(session: AsyncSession, now: dt.datetime) -> None:
    """Cancel questions for anyone who withdrew consent, and drop those whose moment passed."""
    withdrawn = exists().where(
        Resident.id == FeedbackPrompt.resident_id,
        ~_feedback_consent_granted(Resident.person_ref),
    )
    await session.execute(
        update(FeedbackPrompt)
        .where(FeedbackPrompt.status == PromptStatus.PENDING, withdrawn)
        .values(status=PromptStatus.CANCELLED, updated_at=now)
    )
    await session.execute(
        update(FeedbackPrompt)
        .where(
            FeedbackPrompt.status == PromptStatus.PENDING,
            FeedbackPrompt.due_at < now - PROMPT_EXPIRES_AFTER,
        )
        .values(status=PromptStatus.EXPIRED, updated_at=now)
    )


async def claim_due_prompts(
    session: AsyncSession, now: dt.datetime, quiet: QuietHours, limit: int = PROMPT_BATCH
) -> list[DuePrompt]:
    """The questions to send now, marked sent before sending so none is ever sent twice."""
    if quiet.contains(now):
        return []
    recent = now - PROMPT_GAP
    earlier = aliased(FeedbackPrompt)
    asked_recently = exists().where(earlier.resident_id == Resident.id, earlier.sent_at > recent)
    answered_recently = exists().where(
        FeedbackResponse.resident_id == Resident.id, FeedbackResponse.created_at > recent
    )
    rows = await session.execute(
        select(
            FeedbackPrompt.id,
            FeedbackPrompt.moment,
            FeedbackPrompt.resident_id,
            Resident.telegram_user_id,
            Resident.language_code,
        )
        .join(Resident, Resident.id == FeedbackPrompt.resident_id)
        .where(
            FeedbackPrompt.status == PromptStatus.PENDING,
            FeedbackPrompt.due_at <= now,
            Resident.status == ResidentStatus.ACTIVE,
            # Nobody is asked who blocked the bot; the question waits in case she comes back.
            Resident.unreachable_since.is_(None),
            ~asked_recently,
            ~answered_recently,
            _feedback_consent_granted(Resident.person_ref),
        )
        .order_by(FeedbackPrompt.due_at, FeedbackPrompt.id)
    )
    claimed: list[DuePrompt] = []
    seen: set[int] = set()
    for prompt_id, moment, resident_id, telegram_user_id, language in rows:
        # One question per person per fortnight: the others wait their turn (or expire).
        if resident_id in seen:
            continue
        seen.add(resident_id)
        claimed.append(DuePrompt(prompt_id, moment, telegram_user_id, language, resident_id))
        if len(claimed) >= limit:
            break
    if claimed:
        await session.execute(
            update(FeedbackPrompt)
            .where(FeedbackPrompt.id.in_([p.prompt_id for p in claimed]))
            .values(status=PromptStatus.SENT, sent_at=now, updated_at=now)
        )
    return claimed


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_feedback(
    session: AsyncSession, resident_id: int
) -> dict[str, list[dict[str, Any]]]:
    """Her feedback for /mydata: ratings, comments and the questions we planned to ask."""
    responses = await session.scalars(
        select(FeedbackResponse)
        .where(FeedbackResponse.resident_id == resident_id)
        .order_by(FeedbackResponse.id)
    )
    comments = await session.scalars(
        select(FeedbackComment)
        .where(FeedbackComment.resident_id == resident_id)
        .order_by(FeedbackComment.id)
    )
    prompts = await session.scalars(
        select(FeedbackPrompt)
        .where(FeedbackPrompt.resident_id == resident_id)
        .order_by(FeedbackPrompt.id)
    )
    return {
        "ratings": [
            {
                "rating": r.rating,
                "loneliness": r.loneliness.value if r.loneliness else None,
                "asked_because": r.moment.value,
                "service": r.service_ref,
                "district_code": r.district_code,
                "pregnancy_stage": r.stage_band.value,
                "at": _iso(r.created_at),
            }
            for r in responses
        ],
        "comments": [
            {"text": c.text, "service": c.service_ref, "at": _iso(c.created_at)} for c in comments
        ],
        "feedback_questions": [
            {
                "moment": p.moment.value,
                "status": p.status.value,
                "due_at": _iso(p.due_at),
                "sent_at": _iso(p.sent_at),
            }
            for p in prompts
        ],
    }
