"""Recording and reading consent choices; the record is append-only."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import OPTIONAL_PURPOSES, ConsentEvent, ConsentPurpose


@dataclass(frozen=True)
class ConsentContext:
    """What makes a choice evidence: the notice in force, what she saw and where she came from."""

    notice_version: str
    shown_text: str
    method: str
    source: str | None
    now: dt.datetime


def text_sha256(text: str) -> str:
    """Fingerprint of the exact text she was shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_consent(
    session: AsyncSession,
    person_ref: str,
    purpose: ConsentPurpose,
    granted: bool,
    context: ConsentContext,
) -> ConsentEvent:
    """Append one choice to the record."""
    event = ConsentEvent(
        person_ref=person_ref,
        purpose=purpose,
        granted=granted,
        notice_version=context.notice_version,
        text_sha256=text_sha256(context.shown_text),
        method=context.method[:64],
        source=context.source,
        created_at=context.now,
    )
    session.add(event)
    return event


async def consent_history(session: AsyncSession, person_ref: str) -> list[ConsentEvent]:
    """Every choice she made, oldest first."""
    result = await session.scalars(
        select(ConsentEvent).where(ConsentEvent.person_ref == person_ref).order_by(ConsentEvent.id)
    )
    return list(result)


async def current_consents(session: AsyncSession, person_ref: str) -> dict[ConsentPurpose, bool]:
    """Her latest choice per purpose; a purpose she has not answered yet is absent."""
    choices: dict[ConsentPurpose, bool] = {}
    for event in await consent_history(session, person_ref):
        choices[event.purpose] = event.granted
    return choices


def unanswered_optional_purposes(choices: dict[ConsentPurpose, bool]) -> list[ConsentPurpose]:
    """Optional purposes she has not been asked about yet, in the order we ask them."""
    return [purpose for purpose in OPTIONAL_PURPOSES if purpose not in choices]
