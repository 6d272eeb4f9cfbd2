"""Exports for the council: consent evidence for audits, and residents' comments, redacted."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.reports.csv_files import write_rows
from bot.services.reports.redaction import redact
from bot.services.reports.sections import Period, month_of, within
from models import ConsentEvent, ConsentText, FeedbackComment

ConsentState = Literal["granted", "declined", "withdrawn"]
CONSENT_FIELDS = (
    "receipt_id",
    "pseudonym",
    "purpose",
    "state",
    "consent_type",
    "recorded_at",
    "controller_name",
    "controller_contact",
    "notice_url",
    "notice_version",
    "jurisdiction",
    "language",
    "text_sha256",
    "text_shown",
    "method",
    "source",
)


def pseudonym(person_ref: str) -> str:
    """A stable id for one person's consent history that is not the database's own link."""
    # The council can recompute it from a person_ref to answer a query about one resident;
    # the export alone leads nowhere.
    return hashlib.sha256(f"bumpbuddies-consent:{person_ref}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class ConsentRecord:
    """One consent choice as evidence: a consent receipt, with the text she was shown."""

    receipt_id: str
    pseudonym: str
    purpose: str
    state: ConsentState
    consent_type: str
    recorded_at: str
    # None for choices recorded before these were kept (migration 0011).
    controller_name: str | None
    controller_contact: str | None
    notice_url: str | None
    notice_version: str
    jurisdiction: str
    language: str
    text_sha256: str
    text_shown: str | None
    method: str
    source: str | None


async def consent_records(
    session: AsyncSession, period: Period | None = None
) -> AsyncIterator[ConsentRecord]:
    """Every consent event, oldest first; within `period` if given."""
    agreed: dict[tuple[str, str], bool] = {}
    events = await session.stream(
        select(ConsentEvent, ConsentText.text)
        .outerjoin(ConsentText, ConsentText.sha256 == ConsentEvent.text_sha256)
        .order_by(ConsentEvent.id)
        .execution_options(yield_per=2000)
    )
    async for event, shown in events:
        key = (event.person_ref, event.purpose.value)
        # A "no" after a "yes" is a withdrawal; a first "no" is declining.
        state: ConsentState = (
            "granted" if event.granted else "withdrawn" if agreed.get(key) else "declined"
        )
        agreed[key] = event.granted
        if period is not None and not period.start <= event.created_at < period.end:
            continue
        yield ConsentRecord(
            receipt_id=event.receipt_id,
            pseudonym=pseudonym(event.person_ref),
            purpose=event.purpose.value,
            state=state,
            consent_type=event.consent_type,
            recorded_at=event.created_at.isoformat(),
            controller_name=event.controller_name,
            controller_contact=event.controller_contact,
            notice_url=event.notice_url,
            notice_version=event.notice_version,
            jurisdiction=event.jurisdiction,
            language=event.language,
            text_sha256=event.text_sha256,
            text_shown=shown,
            method=event.method,
            source=event.source,
        )


async def write_consent_evidence(
    session: AsyncSession,
    csv_path: Path,
    json_path: Path,
    exported_at: dt.datetime,
    period: Period | None = None,
) -> int:
    """Write the evidence as CSV and JSON; returns how many events were written."""
    count = 0
    with (
        csv_path.open("w", encoding="utf-8", newline="") as csv_file,
        json_path.open("w", encoding="utf-8") as json_file,
    ):
        csv_file.write(write_rows([CONSENT_FIELDS]))
        scope = period.label() if period else "all time"
        json_file.write(
            f'{{"exported_at": {json.dumps(exported_at.isoformat())}, '
            f'"period": {json.dumps(scope)}, "events": ['
        )
        async for record in consent_records(session, period):
            values = asdict(record)
            csv_file.write(write_rows([[values[field] for field in CONSENT_FIELDS]]))
            json_file.write(("," if count else "") + "\n  " + json.dumps(values))
            count += 1
        json_file.write("\n]}\n")
    return count


COMMENT_FIELDS = ("month", "service", "comment")


async def comment_rows(session: AsyncSession, period: Period) -> list[tuple[str, str, str]]:
    """Comments for admins: month, service and the redacted text, with nothing about who."""
    month = month_of(FeedbackComment.created_at, period)
    result = await session.execute(
        select(month, FeedbackComment.service_ref, FeedbackComment.text).where(
            within(FeedbackComment.created_at, period)
        )
    )
    # Sorted by text within a month: the order they arrived in could be matched to other data.
    return sorted((m, service or "", redact(text)) for m, service, text in result)


async def comments_csv(session: AsyncSession, period: Period) -> str:
    """The comments export as CSV text."""
    return write_rows([COMMENT_FIELDS, *await comment_rows(session, period)])
