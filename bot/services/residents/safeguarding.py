"""Safeguarding that survives erasure: what was done about her comes back if she signs up again.

Erasing her data must not be a way round a suspension or a block. Before her row goes, her
current suspension and every block and report made about her are copied to
`safeguarding_records` under a keyed hash (HMAC-SHA-256 with SAFEGUARDING_SECRET) of her Telegram
id; the people who blocked or reported her appear only as their own keyed hashes. Signing up
again with the same Telegram account finds the record and restores them. A new Telegram account
is out of reach: the record holds no name, phone number or anything else to recognise her by.

When someone who blocked or reported erases her own data, her side of these records (and the
reason she typed) goes with her. Records are purged SAFEGUARDING_RETENTION_MONTHS after the
erasure that made them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.staff.audit import Actor, record
from bot.services.staff.moderation import current_suspension
from models import (
    MatchBlock,
    MatchReport,
    ModerationAction,
    ModerationDecision,
    Resident,
    SafeguardingKind,
    SafeguardingRecord,
)

SYSTEM = Actor(None, "system")


@dataclass(frozen=True)
class SafeguardingKey:
    """The server's secret, turning a Telegram id into a keyed hash that leads nowhere else."""

    secret: str = field(repr=False)

    def of(self, telegram_user_id: int) -> str:
        """Her keyed hash: the same for the same account, unguessable without the secret."""
        message = f"telegram-user:{telegram_user_id}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()


def _key_of(resident: Resident, key: SafeguardingKey) -> str:
    """Her keyed hash, noted on her row so that her blocks can be restored to her later."""
    if resident.safeguarding_key is None:
        resident.safeguarding_key = key.of(resident.telegram_user_id)
    return resident.safeguarding_key


async def keep_record(
    session: AsyncSession, resident: Resident, key: SafeguardingKey, now: dt.datetime
) -> None:
    """Before her erasure: keep her suspension and the blocks and reports about her."""
    subject = key.of(resident.telegram_user_id)
    kept: list[SafeguardingRecord] = []

    def keep(kind: SafeguardingKind, happened_at: dt.datetime, **fields: object) -> None:
        kept.append(
            SafeguardingRecord(
                subject_key=subject, kind=kind, happened_at=happened_at, recorded_at=now, **fields
            )
        )

    suspension = await current_suspension(session, resident.id)
    if suspension is not None:
        keep(SafeguardingKind.SUSPENSION, suspension.at, staff_id=suspension.staff_id)
    blocks = await session.execute(
        select(MatchBlock.created_at, Resident)
        .join(Resident, Resident.id == MatchBlock.blocker_id)
        .where(MatchBlock.blocked_id == resident.id)
        .order_by(MatchBlock.created_at)
        # Locked, so a blocker erasing herself at this very moment either goes first (and her
        # block with her) or waits, then finds and removes what this kept (forget_her_side).
        .with_for_update(of=Resident)
    )
    for created_at, blocker in blocks.all():
        keep(SafeguardingKind.BLOCK, created_at, other_key=_key_of(blocker, key))
    decided = exists().where(ModerationDecision.report_id == MatchReport.id)
    reports = await session.execute(
        select(MatchReport, Resident, decided)
        .join(Resident, Resident.id == MatchReport.reporter_id)
        .where(MatchReport.reported_id == resident.id)
        .order_by(MatchReport.id)
        .with_for_update(of=Resident)
    )
    for report, reporter, was_decided in reports.all():
        keep(
            SafeguardingKind.REPORT,
            report.created_at,
            other_key=_key_of(reporter, key),
            reason=report.reason,
            decided=bool(was_decided),
        )
    session.add_all(kept)


async def forget_her_side(
    session: AsyncSession, telegram_user_id: int, key: SafeguardingKey
) -> None:
    """She is erasing her data: the blocks and reports she made go, and her reasons with them.

    Called after her row is deleted, so a record kept by someone erasing at the same moment
    (who locked her row first) is committed and seen here.
    """
    await session.execute(
        delete(SafeguardingRecord).where(SafeguardingRecord.other_key == key.of(telegram_user_id))
    )


async def restore(
    session: AsyncSession, resident: Resident, key: SafeguardingKey, now: dt.datetime
) -> None:
    """She signed up again with the same account: bring back what was kept about her.

    Restored rows leave the record (her live rows carry them again, and are copied back if she
    erases again); a report already decided stays in the record as the moderators' evidence.
    """
    records = list(
        await session.scalars(
            select(SafeguardingRecord)
            .where(SafeguardingRecord.subject_key == key.of(resident.telegram_user_id))
            .order_by(SafeguardingRecord.id)
        )
    )
    if not records:
        return
    others = {r.other_key for r in records if r.other_key is not None}
    found = await session.execute(
        select(Resident.safeguarding_key, Resident.id).where(Resident.safeguarding_key.in_(others))
    )
    resident_of = {other_key: resident_id for other_key, resident_id in found.all()}
    blockers: set[int] = set()
    restored: list[int] = []
    for kept in records:
        other = resident_of.get(kept.other_key) if kept.other_key is not None else None
        if kept.kind is SafeguardingKind.SUSPENSION and kept.staff_id is not None:
            session.add(
                ModerationDecision(
                    resident_id=resident.id,
                    report_id=None,
                    action=ModerationAction.SUSPEND,
                    staff_id=kept.staff_id,
                    at=kept.happened_at,
                )
            )
            resident.matching_paused_at = now
            record(
                session,
                now,
                SYSTEM,
                "safeguarding.restore",
                f"person:{resident.person_ref}",
                "ok",
                "suspension restored on signing up again",
            )
        elif kept.kind is SafeguardingKind.BLOCK and other is not None:
            if other not in blockers:
                blockers.add(other)
                session.add(
                    MatchBlock(
                        blocker_id=other, blocked_id=resident.id, created_at=kept.happened_at
                    )
                )
        elif kept.kind is SafeguardingKind.REPORT and other is not None and not kept.decided:
            session.add(
                MatchReport(
                    reporter_id=other,
                    reported_id=resident.id,
                    reason=kept.reason,
                    created_at=kept.happened_at,
                )
            )
        else:
            continue
        restored.append(kept.id)
    await session.flush()
    await session.execute(delete(SafeguardingRecord).where(SafeguardingRecord.id.in_(restored)))


async def purge_expired(session: AsyncSession, now: dt.datetime, months: int) -> int:
    """Delete records made more than `months` ago; how many went."""
    result = await session.execute(
        delete(SafeguardingRecord).where(
            SafeguardingRecord.recorded_at < now - relativedelta(months=months)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
