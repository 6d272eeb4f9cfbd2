"""Sign-up and profile of a resident: everything the onboarding conversation stores."""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import kinds, queue
from bot.services.consent import (
    ConsentContext,
    current_consents,
    record_consent,
    unanswered_optional_purposes,
)
from bot.services.matching import set_matching_consent
from bot.services.planning import cancel_local_info
from models import ConsentPurpose, Resident, ResidentStatus

DISPLAY_NAME_MAX = 64
SOURCE_MAX = 64


class Step(enum.StrEnum):
    """The next thing onboarding needs from her."""

    CONSENT_HEALTH = "consent_health"
    CONSENT_MATCHING = "consent_matching"
    CONSENT_LOCAL_INFO = "consent_local_info"
    CONSENT_FEEDBACK = "consent_feedback"
    DUE_DATE = "due_date"
    AREA = "area"
    NAME = "name"
    SUMMARY = "summary"
    DONE = "done"
    WAITING_FOR_AREA = "waiting_for_area"


_CONSENT_STEPS = {
    ConsentPurpose.MATCHING: Step.CONSENT_MATCHING,
    ConsentPurpose.LOCAL_INFO: Step.CONSENT_LOCAL_INFO,
    ConsentPurpose.FEEDBACK: Step.CONSENT_FEEDBACK,
}


class NotSignedUp(Exception):
    """She has no record (never signed up, declined, or asked us to forget her)."""


@dataclass(frozen=True)
class Profile:
    """What we hold about her, for the summary and /profile."""

    display_name: str | None
    due_date: dt.date | None
    ward_code: str | None
    district_code: str | None
    waiting_outcode: str | None
    status: ResidentStatus
    consents: dict[ConsentPurpose, bool]
    step: Step


def clean_source(payload: str | None) -> str | None:
    """A deep-link payload as stored: Telegram allows 64 characters of A-Za-z0-9_-."""
    if not payload:
        return None
    kept = "".join(ch for ch in payload if ch.isascii() and (ch.isalnum() or ch in "_-"))
    return kept[:SOURCE_MAX] or None


def clean_display_name(text: str) -> str | None:
    """The name as we would store it, or None when it can't be used (empty or too long)."""
    # Control and format characters could break layouts or hide text, so they are dropped.
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    name = " ".join(kept.split())
    if not name or len(name) > DISPLAY_NAME_MAX:
        return None
    return name


async def find_resident(session: AsyncSession, telegram_user_id: int) -> Resident | None:
    """Her record, if she has one."""
    result = await session.scalars(
        select(Resident).where(Resident.telegram_user_id == telegram_user_id)
    )
    return result.one_or_none()


async def _require(session: AsyncSession, telegram_user_id: int) -> Resident:
    resident = await find_resident(session, telegram_user_id)
    if resident is None:
        raise NotSignedUp
    return resident


def _next_step(resident: Resident, consents: dict[ConsentPurpose, bool]) -> Step:
    if resident.status is ResidentStatus.WAITING_FOR_AREA:
        return Step.WAITING_FOR_AREA
    for purpose in unanswered_optional_purposes(consents):
        return _CONSENT_STEPS[purpose]
    if resident.due_date is None:
        return Step.DUE_DATE
    if resident.ward_code is None:
        return Step.AREA
    if resident.display_name is None:
        return Step.NAME
    if resident.status is ResidentStatus.ONBOARDING:
        return Step.SUMMARY
    return Step.DONE


async def profile(session: AsyncSession, telegram_user_id: int) -> Profile | None:
    """Her profile and where onboarding stands, or None if she has no record."""
    resident = await find_resident(session, telegram_user_id)
    if resident is None:
        return None
    consents = await current_consents(session, resident.person_ref)
    return Profile(
        display_name=resident.display_name,
        due_date=resident.due_date,
        ward_code=resident.ward_code,
        district_code=resident.district_code,
        waiting_outcode=resident.waiting_outcode,
        status=resident.status,
        consents=consents,
        step=_next_step(resident, consents),
    )


async def record_refusal(session: AsyncSession, context: ConsentContext) -> None:
    """Keep only the fact that someone declined, under a reference that leads nowhere."""
    record_consent(session, str(uuid.uuid4()), ConsentPurpose.HEALTH_DATA, False, context)


async def start_signup(
    session: AsyncSession, telegram_user_id: int, language_code: str, context: ConsentContext
) -> Resident:
    """Create her record once she agrees to us keeping her pregnancy details."""
    existing = await find_resident(session, telegram_user_id)
    if existing is not None:
        # A double tap, or an old welcome message: she already agreed.
        return existing
    resident = Resident(
        person_ref=str(uuid.uuid4()),
        telegram_user_id=telegram_user_id,
        status=ResidentStatus.ONBOARDING,
        signup_source=clean_source(context.source),
        language_code=(language_code or "en")[:8],
        created_at=context.now,
        updated_at=context.now,
    )
    session.add(resident)
    record_consent(session, resident.person_ref, ConsentPurpose.HEALTH_DATA, True, context)
    await session.flush()
    return resident


async def set_consent(
    session: AsyncSession,
    telegram_user_id: int,
    purpose: ConsentPurpose,
    granted: bool,
    context: ConsentContext,
) -> bool:
    """Record a choice about an optional purpose; False when it was already her choice."""
    if purpose is ConsentPurpose.HEALTH_DATA:
        raise ValueError("health data consent is given at sign-up and withdrawn by erasure")
    resident = await _require(session, telegram_user_id)
    consents = await current_consents(session, resident.person_ref)
    if consents.get(purpose) is granted:
        return False
    record_consent(session, resident.person_ref, purpose, granted, context)
    resident.updated_at = context.now
    if purpose is ConsentPurpose.LOCAL_INFO:
        resident.local_info_consent = granted
        if not granted:
            # Withdrawal takes effect at once: nothing already queued for her goes out.
            await cancel_local_info(session, resident.id)
    if purpose is ConsentPurpose.FEEDBACK and not granted:
        # A question already queued is not asked after she said no.
        await queue.cancel_open(session, resident_id=resident.id, kinds=(kinds.FEEDBACK_PROMPT,))
    if purpose is ConsentPurpose.MATCHING:
        # The matching pool flag moves with the record; withdrawing ends her open proposals.
        await set_matching_consent(session, resident, granted, context.now)
    return True


async def set_due_date(
    session: AsyncSession, telegram_user_id: int, due_date: dt.date, now: dt.datetime
) -> None:
    """Store her due date."""
    resident = await _require(session, telegram_user_id)
    resident.due_date = due_date
    resident.updated_at = now


async def set_ward(
    session: AsyncSession,
    telegram_user_id: int,
    ward_code: str,
    district_code: str,
    now: dt.datetime,
) -> None:
    """Store her neighbourhood: the ward and its district, never the raw location."""
    resident = await _require(session, telegram_user_id)
    resident.ward_code = ward_code
    resident.district_code = district_code
    resident.waiting_outcode = None
    if resident.status is ResidentStatus.WAITING_FOR_AREA:
        resident.status = ResidentStatus.ONBOARDING
    resident.updated_at = now


async def wait_for_area(
    session: AsyncSession, telegram_user_id: int, outcode: str | None, now: dt.datetime
) -> None:
    """She lives outside the area and wants to hear when the service reaches her."""
    resident = await _require(session, telegram_user_id)
    resident.status = ResidentStatus.WAITING_FOR_AREA
    resident.waiting_outcode = outcode[:4] if outcode else None
    resident.ward_code = None
    resident.district_code = None
    resident.updated_at = now


async def set_display_name(
    session: AsyncSession, telegram_user_id: int, display_name: str, now: dt.datetime
) -> None:
    """Store the name other mums will see; callers pass it through clean_display_name first."""
    cleaned = clean_display_name(display_name)
    if cleaned is None:
        raise ValueError("display name must be cleaned and checked before it is stored")
    resident = await _require(session, telegram_user_id)
    resident.display_name = cleaned
    resident.updated_at = now


async def complete_signup(session: AsyncSession, telegram_user_id: int, now: dt.datetime) -> bool:
    """Mark her active once she confirms the summary; False if something is still missing."""
    resident = await _require(session, telegram_user_id)
    consents = await current_consents(session, resident.person_ref)
    step = _next_step(resident, consents)
    if step is Step.DONE:
        return True
    if step is not Step.SUMMARY:
        return False
    resident.status = ResidentStatus.ACTIVE
    resident.onboarded_at = now
    resident.updated_at = now
    return True
