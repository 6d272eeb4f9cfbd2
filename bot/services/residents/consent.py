"""Recording and reading consent choices; the record is append-only.

Each choice is a consent receipt in the sense of the Kantara Consent Receipt specification and
the ICO's guidance on recording consent: who consented (a pseudonymous reference), when, to what
purpose, how (the button), what she was told (the text, kept once under its SHA-256, and the
notice version and URL), in which language, who the controller is and how to reach them, under
which jurisdiction, and whether she has withdrawn (a later event).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import OPTIONAL_PURPOSES, ConsentEvent, ConsentPurpose, ConsentText

# UK GDPR; an ISO 3166 code, as the Kantara receipt's jurisdiction field suggests.
JURISDICTION = "GB"
# Every purpose is asked on its own with a yes and a no button (UK GDPR Article 9(2)(a)).
CONSENT_TYPE = "explicit"


@dataclass(frozen=True)
class Controller:
    """The data controller as the privacy notice names them."""

    name: str
    contact: str
    notice_url: str


@dataclass(frozen=True)
class ConsentContext:
    """What makes a choice evidence: the notice in force, what she saw and where she came from."""

    notice_version: str
    shown_text: str
    method: str
    source: str | None
    now: dt.datetime
    # The catalogue's language she read the text in.
    language: str = field(kw_only=True)
    controller: Controller = field(kw_only=True)


@dataclass(frozen=True)
class Receipt:
    """One recorded choice with the text she was shown, or None when that text was not kept."""

    event: ConsentEvent
    text: str | None


def text_sha256(text: str) -> str:
    """Fingerprint of the exact text she was shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def keep_text(session: AsyncSession, text: str, now: dt.datetime) -> str:
    """Keep `text` once, under its SHA-256 (returned); a text already kept is left as it is."""
    digest = text_sha256(text)
    if session.get_bind().dialect.name == "postgresql":
        # Two sign-ups seeing a new text at once must not collide.
        await session.execute(
            postgres_insert(ConsentText)
            .values(sha256=digest, text=text, first_shown_at=now)
            .on_conflict_do_nothing(index_elements=["sha256"])
        )
    # SQLite writes one transaction at a time; its triggers refuse any second insert of a key.
    elif await session.get(ConsentText, digest) is None:
        session.add(ConsentText(sha256=digest, text=text, first_shown_at=now))
        await session.flush()
    return digest


async def record_consent(
    session: AsyncSession,
    person_ref: str,
    purpose: ConsentPurpose,
    granted: bool,
    context: ConsentContext,
) -> ConsentEvent:
    """Append one choice to the record, with the text she was shown."""
    digest = await keep_text(session, context.shown_text, context.now)
    event = ConsentEvent(
        receipt_id=str(uuid.uuid4()),
        person_ref=person_ref,
        purpose=purpose,
        granted=granted,
        consent_type=CONSENT_TYPE,
        notice_version=context.notice_version[:32],
        text_sha256=digest,
        language=context.language[:8],
        controller_name=context.controller.name[:100],
        controller_contact=context.controller.contact[:200],
        notice_url=context.controller.notice_url[:300],
        jurisdiction=JURISDICTION,
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


async def consent_receipts(session: AsyncSession, person_ref: str) -> list[Receipt]:
    """Every choice she made with the text she was shown, oldest first."""
    result = await session.execute(
        select(ConsentEvent, ConsentText.text)
        .outerjoin(ConsentText, ConsentText.sha256 == ConsentEvent.text_sha256)
        .where(ConsentEvent.person_ref == person_ref)
        .order_by(ConsentEvent.id)
    )
    return [Receipt(event, text) for event, text in result]


async def latest_receipt_id(session: AsyncSession, person_ref: str) -> str | None:
    """The receipt of her most recent choice, for her to quote to the council."""
    return await session.scalar(
        select(ConsentEvent.receipt_id)
        .where(ConsentEvent.person_ref == person_ref)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )


async def current_consents(session: AsyncSession, person_ref: str) -> dict[ConsentPurpose, bool]:
    """Her latest choice per purpose; a purpose she has not answered yet is absent."""
    choices: dict[ConsentPurpose, bool] = {}
    for event in await consent_history(session, person_ref):
        choices[event.purpose] = event.granted
    return choices


def unanswered_optional_purposes(choices: dict[ConsentPurpose, bool]) -> list[ConsentPurpose]:
    """Optional purposes she has not been asked about yet, in the order we ask them."""
    return [purpose for purpose in OPTIONAL_PURPOSES if purpose not in choices]
