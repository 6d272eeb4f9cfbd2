"""Life events: her baby has arrived, or her pregnancy has ended; what we send follows.

After a loss there is one state and every screen reads it: the consent record says matching and
local information are off (her "stop them" answer); "keep my account" (or turning local
information on in /privacy) turns local information on and sends only what the content marks as
suitable after a loss; matching is never offered again (residents.set_consent refuses it); no
screen shows her due date or weeks.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import queue
from bot.services.feedback import note_feedback_moment
from bot.services.local_info.planning import PREGNANCY_KINDS
from bot.services.matching.suggestions import pause_matching
from bot.services.residents.consent import ConsentContext
from bot.services.residents.profile import find_resident, set_consent
from models import (
    ConsentPurpose,
    FeedbackMoment,
    LifeEvent,
    LifeStage,
    Resident,
    ResidentStatus,
)

MAX_BIRTH_AGE_DAYS = 366
_NUMERIC = re.compile(r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?")
_NAMED = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3,9})\.?(?:\s+(\d{4}))?")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}


class Outcome(enum.StrEnum):
    """What happened when she told us something."""

    SAVED = "saved"
    ALREADY = "already"
    NOT_SIGNED_UP = "not_signed_up"
    ONBOARDING = "onboarding"
    # The button no longer fits what we know (e.g. "baby arrived" after a pregnancy ended).
    STALE = "stale"


@dataclass(frozen=True)
class AfterLoss:
    """Where she stands after telling us her pregnancy ended."""

    ended_on: dt.date | None
    # She answered "keep my account" (or turned local information on herself since).
    kept: bool
    local_info: bool


class BirthDateProblem(enum.StrEnum):
    """Why a typed birth date can't be used."""

    UNRECOGNISED = "birth_date_unrecognised"
    FUTURE = "birth_date_future"
    TOO_OLD = "birth_date_too_old"


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _read(text: str, today: dt.date) -> tuple[dt.date | None, bool]:
    """The date named and whether a year was given."""
    numeric = _NUMERIC.fullmatch(text)
    if numeric is not None:
        day, month, year = numeric.groups()
        if year is None:
            return _date(today.year, int(month), int(day)), False
        full = int(year) + 2000 if len(year) == 2 else int(year)
        return _date(full, int(month), int(day)), True
    named = _NAMED.fullmatch(text)
    if named is not None and named.group(2) in _MONTHS:
        day, month_name, year = named.groups()
        value = _date(int(year or today.year), _MONTHS[month_name], int(day))
        return value, year is not None
    return None, False


def parse_birth_date(text: str, today: dt.date) -> dt.date | BirthDateProblem:
    """A typed birth date, UK style (day first); "today" and "yesterday" work too."""
    cleaned = " ".join(text.lower().replace(",", " ").split())[:40]
    if cleaned in ("today", "yesterday"):
        return today - dt.timedelta(days=0 if cleaned == "today" else 1)
    value, has_year = _read(cleaned, today)
    if value is None:
        return BirthDateProblem.UNRECOGNISED
    if value > today and not has_year:
        # "14/12" typed in January means last December.
        value = _date(value.year - 1, value.month, value.day) or value
    return check_birth_date(value, today)


def check_birth_date(value: dt.date, today: dt.date) -> dt.date | BirthDateProblem:
    """A birth date is in the past year, never in the future."""
    if value > today:
        return BirthDateProblem.FUTURE
    if (today - value).days > MAX_BIRTH_AGE_DAYS:
        return BirthDateProblem.TOO_OLD
    return value


async def current_event(session: AsyncSession, resident_id: int) -> LifeEvent | None:
    """What she has told us, if anything (no row: still pregnant)."""
    return await session.get(LifeEvent, resident_id)


async def _resident(session: AsyncSession, telegram_user_id: int) -> Resident | Outcome:
    resident = await find_resident(session, telegram_user_id)
    if resident is None:
        return Outcome.NOT_SIGNED_UP
    if resident.status is not ResidentStatus.ACTIVE:
        return Outcome.ONBOARDING
    return resident


async def can_tell(session: AsyncSession, telegram_user_id: int) -> Outcome | LifeStage:
    """Her stage if she can tell us about a life event, else why not."""
    found = await _resident(session, telegram_user_id)
    if isinstance(found, Outcome):
        return found
    event = await current_event(session, found.id)
    return event.stage if event else LifeStage.PREGNANT


async def record_birth(
    session: AsyncSession, telegram_user_id: int, born_on: dt.date, now: dt.datetime
) -> Outcome:
    """Her baby has arrived: pregnancy messages stop; the postnatal series starts next plan."""
    found = await _resident(session, telegram_user_id)
    if isinstance(found, Outcome):
        return found
    event = await current_event(session, found.id)
    if event is not None and event.stage is LifeStage.BABY:
        return Outcome.ALREADY
    if event is not None and event.stage is LifeStage.ENDED:
        return Outcome.STALE
    if event is None:
        event = LifeEvent(resident_id=found.id, stage=LifeStage.BABY, keep_local_info=False)
        session.add(event)
    event.stage = LifeStage.BABY
    event.baby_born_on = born_on
    event.updated_at = now
    await queue.cancel_open(session, resident_id=found.id, kinds=PREGNANCY_KINDS)
    await session.flush()
    await note_feedback_moment(session, found.id, FeedbackMoment.AFTER_BIRTH, now)
    return Outcome.SAVED


async def record_pregnancy_ended(
    session: AsyncSession,
    telegram_user_id: int,
    today: dt.date,
    evidence: ConsentContext,
) -> Outcome:
    """She is no longer pregnant: everything about pregnancy and babies stops at once.

    Her answer withdraws matching and local information in the consent record (with the
    question she answered as evidence), so /privacy, /profile and what we send all agree.
    Local information comes back only if she chooses to keep her account for it.
    """
    found = await _resident(session, telegram_user_id)
    if isinstance(found, Outcome):
        return found
    event = await current_event(session, found.id)
    if event is not None and event.stage is LifeStage.ENDED:
        return Outcome.ALREADY
    if event is None:
        event = LifeEvent(resident_id=found.id, stage=LifeStage.ENDED)
        session.add(event)
    event.stage = LifeStage.ENDED
    event.ended_on = today
    event.baby_born_on = None
    event.keep_local_info = False
    event.updated_at = evidence.now
    await session.flush()
    await queue.cancel_open(session, resident_id=found.id, kinds=PREGNANCY_KINDS)
    for purpose in (ConsentPurpose.MATCHING, ConsentPurpose.LOCAL_INFO):
        await set_consent(session, telegram_user_id, purpose, False, evidence)
    # Never offered to other mums as "due in March" again, whatever is chosen later.
    await pause_matching(session, found.id, evidence.now)
    return Outcome.SAVED


async def keep_for_local_info(
    session: AsyncSession, telegram_user_id: int, evidence: ConsentContext
) -> Outcome:
    """After a pregnancy ended, she keeps her account for general local information only.

    That is a choice to receive local information, recorded as such.
    """
    found = await _resident(session, telegram_user_id)
    if isinstance(found, Outcome):
        return found
    event = await current_event(session, found.id)
    if event is None or event.stage is not LifeStage.ENDED:
        return Outcome.STALE
    kept_before = event.keep_local_info
    granted = await set_consent(
        session, telegram_user_id, ConsentPurpose.LOCAL_INFO, True, evidence
    )
    event.keep_local_info = True
    event.updated_at = evidence.now
    return Outcome.SAVED if granted or not kept_before else Outcome.ALREADY


async def after_loss(session: AsyncSession, telegram_user_id: int) -> AfterLoss | None:
    """What she chose after telling us her pregnancy ended; None if it hasn't."""
    found = await find_resident(session, telegram_user_id)
    if found is None:
        return None
    event = await current_event(session, found.id)
    if event is None or event.stage is not LifeStage.ENDED:
        return None
    return AfterLoss(event.ended_on, event.keep_local_info, found.local_info_consent)


async def export_life_events(session: AsyncSession, resident_id: int) -> dict[str, Any] | None:
    """What she told us about her pregnancy, for /mydata."""
    event = await session.scalar(select(LifeEvent).where(LifeEvent.resident_id == resident_id))
    if event is None:
        return None
    return {
        "stage": event.stage.value,
        "baby_born_on": event.baby_born_on.isoformat() if event.baby_born_on else None,
        "pregnancy_ended_on": event.ended_on.isoformat() if event.ended_on else None,
        "keep_local_information_only": event.keep_local_info,
        "updated_at": event.updated_at.isoformat(),
    }
