"""Sign-up and profile of a resident: everything the onboarding conversation stores."""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
import uuid
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import kinds, queue
from bot.delivery.queue import NewDelivery
from bot.services.local_info.planning import cancel_local_info
from bot.services.matching.suggestions import set_matching_consent
from bot.services.residents.consent import (
    ConsentContext,
    current_consents,
    record_consent,
    unanswered_optional_purposes,
)
from bot.services.residents.safeguarding import SafeguardingKey, restore
from models import (
    ConsentPurpose,
    Delivery,
    DeliveryStatus,
    LifeEvent,
    LifeStage,
    Resident,
    ResidentStatus,
)

DISPLAY_NAME_MAX = 64
SOURCE_MAX = 64
# "I don't know my due date yet": asked again this long after, through the delivery queue.
ASK_DUE_DATE_AGAIN_AFTER = dt.timedelta(weeks=2)
ASK_DUE_DATE_KIND = "due_ask"


class Step(enum.StrEnum):
    """The next thing onboarding needs from her."""

    CONSENT_HEALTH = "consent_health"
    CONSENT_MATCHING = "consent_matching"
    CONSENT_LOCAL_INFO = "consent_local_info"
    CONSENT_FEEDBACK = "consent_feedback"
    DUE_DATE = "due_date"
    DUE_DATE_CONFIRM = "due_date_confirm"
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


class NotOffered(Exception):
    """A choice that is no longer offered to her: meeting other mums after a pregnancy ended."""


async def is_offered(session: AsyncSession, resident: Resident, purpose: ConsentPurpose) -> bool:
    """Whether she may say yes to `purpose`: not to meeting other mums once a pregnancy ended."""
    if purpose is not ConsentPurpose.MATCHING:
        return True
    ended = await session.get(LifeEvent, resident.id)
    return ended is None or ended.stage is not LifeStage.ENDED


@dataclass(frozen=True)
class Profile:
    """What we hold about her, for the summary and /profile."""

    display_name: str | None
    due_date: dt.date | None
    pending_due_date: dt.date | None
    due_date_unknown_since: dt.datetime | None
    ward_code: str | None
    district_code: str | None
    waiting_outcode: str | None
    status: ResidentStatus
    consents: dict[ConsentPurpose, bool]
    step: Step
    # Set once she has told us her pregnancy ended: no due date, weeks or matching are shown.
    pregnancy_ended_on: dt.date | None = None


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
    if resident.pending_due_date is not None:
        return Step.DUE_DATE_CONFIRM
    # Not knowing yet is an answer: sign-up goes on and she is asked again later.
    if resident.due_date is None and resident.due_date_unknown_since is None:
        return Step.DUE_DATE
    if resident.ward_code is None:
        return Step.AREA
    # The name is only ever shown to other mums, so only someone who wants to meet them is asked;
    # turning matching on later brings the question back before she can be suggested.
    if resident.display_name is None and consents.get(ConsentPurpose.MATCHING):
        return Step.NAME
    if resident.status is ResidentStatus.ONBOARDING:
        return Step.SUMMARY
    return Step.DONE


async def pregnancy_ended_on(session: AsyncSession, resident_id: int) -> dt.date | None:
    """The day she told us her pregnancy ended, or None; after it, matching is not offered."""
    event = await session.get(LifeEvent, resident_id)
    if event is None or event.stage is not LifeStage.ENDED:
        return None
    return event.ended_on


async def profile(session: AsyncSession, telegram_user_id: int) -> Profile | None:
    """Her profile and where onboarding stands, or None if she has no record."""
    resident = await find_resident(session, telegram_user_id)
    if resident is None:
        return None
    consents = await current_consents(session, resident.person_ref)
    return Profile(
        display_name=resident.display_name,
        due_date=resident.due_date,
        pending_due_date=resident.pending_due_date,
        due_date_unknown_since=resident.due_date_unknown_since,
        ward_code=resident.ward_code,
        district_code=resident.district_code,
        waiting_outcode=resident.waiting_outcode,
        status=resident.status,
        consents=consents,
        step=_next_step(resident, consents),
        pregnancy_ended_on=await pregnancy_ended_on(session, resident.id),
    )


async def record_refusal(session: AsyncSession, context: ConsentContext) -> None:
    """Keep only the fact that someone declined, under a reference that leads nowhere."""
    await record_consent(session, str(uuid.uuid4()), ConsentPurpose.HEALTH_DATA, False, context)


async def language_of(session: AsyncSession, telegram_user_id: int) -> str | None:
    """The language kept on her profile, or None if she has none."""
    return cast(
        "str | None",
        await session.scalar(
            select(Resident.language_code).where(Resident.telegram_user_id == telegram_user_id)
        ),
    )


async def set_language(
    session: AsyncSession, telegram_user_id: int, language: str, now: dt.datetime
) -> bool:
    """Keep the language she chose on her profile; False if she has no profile yet."""
    resident = await find_resident(session, telegram_user_id)
    if resident is None:
        return False
    resident.language_code = language[:8]
    resident.updated_at = now
    return True


async def start_signup(
    session: AsyncSession,
    telegram_user_id: int,
    language_code: str,
    context: ConsentContext,
    key: SafeguardingKey,
) -> Resident:
    """Create her record once she agrees to us keeping her pregnancy details.

    If she erased an earlier account, a suspension and blocks kept about it come back.
    """
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
    await record_consent(session, resident.person_ref, ConsentPurpose.HEALTH_DATA, True, context)
    await session.flush()
    await restore(session, resident, key, context.now)
    return resident


async def set_consent(
    session: AsyncSession,
    telegram_user_id: int,
    purpose: ConsentPurpose,
    granted: bool,
    context: ConsentContext,
) -> bool:
    """Record a choice about an optional purpose; False when it was already her choice.

    Raises NotOffered for turning matching on after her pregnancy ended: other mums would be
    told she is due when she is not.
    """
    if purpose is ConsentPurpose.HEALTH_DATA:
        raise ValueError("health data consent is given at sign-up and withdrawn by erasure")
    resident = await _require(session, telegram_user_id)
    if granted and not await is_offered(session, resident, purpose):
        raise NotOffered
    ended = await session.get(LifeEvent, resident.id)
    after_loss = ended is not None and ended.stage is LifeStage.ENDED
    if purpose is ConsentPurpose.LOCAL_INFO and granted and ended is not None and after_loss:
        # After a loss, choosing local information is keeping her account for it.
        ended.keep_local_info = True
        ended.updated_at = context.now
    consents = await current_consents(session, resident.person_ref)
    if consents.get(purpose) is granted:
        return False
    await record_consent(session, resident.person_ref, purpose, granted, context)
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
    """Store her due date (once she has confirmed it); any "ask again" reminder is dropped."""
    resident = await _require(session, telegram_user_id)
    resident.due_date = due_date
    resident.pending_due_date = None
    resident.due_date_unknown_since = None
    resident.updated_at = now
    await queue.cancel_open(session, resident_id=resident.id, kinds=(ASK_DUE_DATE_KIND,))


async def propose_due_date(
    session: AsyncSession, telegram_user_id: int, due_date: dt.date, now: dt.datetime
) -> None:
    """Hold the date read from what she typed until she confirms it."""
    resident = await _require(session, telegram_user_id)
    resident.pending_due_date = due_date
    resident.updated_at = now


async def confirm_due_date(
    session: AsyncSession, telegram_user_id: int, shown: dt.date | None, now: dt.datetime
) -> dt.date | None:
    """She said yes: store the date waiting for her, if it is the one she was shown."""
    resident = await _require(session, telegram_user_id)
    pending = resident.pending_due_date
    # A yes on an older confirmation (a different date) must not store the newer one.
    if pending is None or (shown is not None and shown != pending):
        return None
    await set_due_date(session, telegram_user_id, pending, now)
    return pending


async def reject_due_date(session: AsyncSession, telegram_user_id: int, now: dt.datetime) -> bool:
    """She said no: forget the date waiting for her, so the question is asked again.

    False, changing nothing, when no date was waiting (an old or made-up "No").
    """
    resident = await _require(session, telegram_user_id)
    if resident.pending_due_date is None:
        return False
    resident.pending_due_date = None
    resident.updated_at = now
    return True


async def due_date_not_known(
    session: AsyncSession,
    telegram_user_id: int,
    now: dt.datetime,
    *,
    ask_at: dt.datetime,
    text: str,
    buttons: list[list[dict[str, str]]],
    template: str | None = None,
) -> bool:
    """She doesn't know yet: note it and queue the question again for `ask_at`.

    False (nothing changes) when she has already given a due date: "don't know" from /profile
    must not throw away a date she confirmed.
    """
    resident = await _require(session, telegram_user_id)
    resident.pending_due_date = None
    if resident.due_date is not None:
        return False
    resident.due_date_unknown_since = now
    resident.updated_at = now
    key = f"{ASK_DUE_DATE_KIND}:{ask_at.date().isoformat()}"
    # One question waits at a time: an earlier one is replaced by this later one.
    await session.execute(
        update(Delivery)
        .where(
            Delivery.resident_id == resident.id,
            Delivery.kind == ASK_DUE_DATE_KIND,
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.content_key != key,
        )
        .values(status=DeliveryStatus.CANCELLED)
    )
    new = NewDelivery(
        resident.id, key, key, ASK_DUE_DATE_KIND, text, ask_at, buttons, template=template
    )
    if not await queue.enqueue(session, [new], now):
        # Asked for the same day before (and perhaps cancelled since): that row asks again.
        await session.execute(
            update(Delivery)
            .where(
                Delivery.resident_id == resident.id,
                Delivery.content_key == key,
                Delivery.status == DeliveryStatus.CANCELLED,
            )
            .values(status=DeliveryStatus.QUEUED, not_before=ask_at)
        )
    return True


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
