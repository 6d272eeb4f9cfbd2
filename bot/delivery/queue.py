"""The delivery queue in the database: planning inserts rows, workers claim and settle them.

Exactly-once per (resident, content item) comes from the unique key, so planning twice is harmless.
A row is claimed (status SENDING, stored) before its send and settled after it; a worker that dies
leaves SENDING rows whose lease runs out and are claimed again. Only a message that was actually
in flight at the crash can therefore be sent twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models import Delivery, DeliveryStatus, Resident

OPEN_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class NewDelivery:
    """A message to plan for one resident."""

    resident_id: int
    content_key: str
    batch: str
    kind: str
    text: str
    not_before: dt.datetime
    buttons: list[list[dict[str, Any]]] | None = None
    paid: bool = False
    # How to word it again when it is sent, in her language then (bot/delivery/render.py);
    # None: it goes as queued.
    template: str | None = None
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class Claimed:
    """A claimed row with what the sender needs."""

    id: int
    chat_id: int
    text: str
    buttons: list[list[dict[str, Any]]] | None
    paid: bool
    attempts: int
    batch: str = ""
    template: str | None = None
    params: dict[str, Any] | None = None
    language_code: str | None = None


@dataclass
class BatchProgress:
    """Counts per status for one batch."""

    counts: dict[DeliveryStatus, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every row in the batch."""
        return sum(self.counts.values())

    @property
    def left(self) -> int:
        """Rows still to send."""
        return sum(self.counts.get(s, 0) for s in OPEN_STATUSES)


async def enqueue(session: AsyncSession, items: Iterable[NewDelivery], now: dt.datetime) -> int:
    """Insert rows that don't exist yet; returns how many were new."""
    rows = [
        {
            "resident_id": item.resident_id,
            "content_key": item.content_key,
            "batch": item.batch,
            "kind": item.kind,
            "text": item.text,
            "buttons": item.buttons,
            "paid": item.paid,
            "template": item.template,
            "params": item.params,
            "status": DeliveryStatus.QUEUED,
            "not_before": item.not_before,
            "attempts": 0,
            "created_at": now,
        }
        for item in items
    ]
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(_DELIVERIES)
        .on_conflict_do_nothing(index_elements=["resident_id", "content_key"])
        .returning(_DELIVERIES.c.id)
    )
    # RETURNING counts what was really inserted, which rowcount can't across executemany.
    result = await session.execute(statement, rows)
    return len(result.all())


async def cancel_open(
    session: AsyncSession,
    *,
    resident_id: int | None = None,
    batch: str | None = None,
    kinds: Sequence[str] | None = None,
) -> int:
    """Cancel queued rows (for a resident, a batch, or kinds); claimed rows are left to finish."""
    conditions = [Delivery.status == DeliveryStatus.QUEUED]
    if resident_id is not None:
        conditions.append(Delivery.resident_id == resident_id)
    if batch is not None:
        conditions.append(Delivery.batch == batch)
    if kinds is not None:
        conditions.append(Delivery.kind.in_(kinds))
    result = await session.execute(
        update(Delivery).where(*conditions).values(status=DeliveryStatus.CANCELLED)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def claim(
    session: AsyncSession,
    worker: str,
    now: dt.datetime,
    limit: int,
    lease: dt.timedelta,
) -> list[Claimed]:
    """Claim due rows for this worker: queued ones, and ones whose claim lease ran out."""
    due = or_(
        and_(Delivery.status == DeliveryStatus.QUEUED, Delivery.not_before <= now),
        and_(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at < now - lease),
    )
    pick = select(Delivery.id).where(due).order_by(Delivery.id).limit(limit)
    claim_rows = update(Delivery).values(
        status=DeliveryStatus.SENDING,
        claimed_by=worker,
        claimed_at=now,
        attempts=Delivery.attempts + 1,
    )
    if session.get_bind().dialect.name == "postgresql":
        # A CTE is evaluated once; as an IN-subquery PostgreSQL may rescan it and claim more
        # than `limit`. SKIP LOCKED keeps two bot processes from ever claiming the same row.
        picked = pick.with_for_update(skip_locked=True).cte("picked")
        claim_rows = claim_rows.where(Delivery.id == picked.c.id)
    else:
        # One UPDATE statement, so picking and claiming are atomic on SQLite too.
        claim_rows = claim_rows.where(Delivery.id.in_(pick.scalar_subquery()), due)
    claimed_ids = await session.scalars(claim_rows.returning(Delivery.id))
    ids = list(claimed_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(
            Delivery.id,
            Resident.telegram_user_id,
            Resident.unreachable_since,
            Delivery.text,
            Delivery.buttons,
            Delivery.paid,
            Delivery.attempts,
            Delivery.batch,
            Delivery.template,
            Delivery.params,
            Resident.language_code,
        )
        .join(Resident, Resident.id == Delivery.resident_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    claimed: list[Claimed] = []
    unreachable: list[int] = []
    for row in rows:
        if row.unreachable_since is not None:
            unreachable.append(row.id)
            continue
        claimed.append(
            Claimed(
                row.id,
                row.telegram_user_id,
                row.text,
                row.buttons,
                row.paid,
                row.attempts,
                row.batch,
                row.template,
                row.params,
                row.language_code,
            )
        )
    if unreachable:
        await settle(session, unreachable, DeliveryStatus.SKIPPED, now, error="unreachable")
    return claimed


async def settle(
    session: AsyncSession,
    ids: Sequence[int],
    status: DeliveryStatus,
    now: dt.datetime,
    *,
    error: str | None = None,
) -> None:
    """Record the outcome of claimed rows."""
    if not ids:
        return
    values: dict[str, Any] = {"status": status, "error": error[:200] if error else None}
    if status is DeliveryStatus.SENT:
        values["sent_at"] = now
    await session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(**values))


async def record_sent(
    session: AsyncSession, sent: Sequence[tuple[int, int | None]], now: dt.datetime
) -> None:
    """Mark rows sent, with the Telegram message id of each."""
    if not sent:
        return
    # One executemany, not a statement per row: at paid-broadcast rates this is the hot path.
    statement = (
        update(_DELIVERIES)
        .where(_DELIVERIES.c.id == bindparam("delivery_id"))
        .values(status=DeliveryStatus.SENT, sent_at=now, telegram_message_id=bindparam("message"))
    )
    await session.execute(
        statement, [{"delivery_id": row_id, "message": message_id} for row_id, message_id in sent]
    )


async def retry_later(
    session: AsyncSession, ids: Sequence[int], not_before: dt.datetime, error: str
) -> None:
    """Put claimed rows back in the queue for a later attempt."""
    if ids:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(
                status=DeliveryStatus.QUEUED,
                not_before=not_before,
                claimed_by=None,
                claimed_at=None,
                error=error[:200],
            )
        )


async def release(
    session: AsyncSession, ids: Sequence[int], not_before: dt.datetime, reason: str
) -> None:
    """Give claimed rows back unsent (flood pause, quiet hours, shutdown); the try doesn't count."""
    if ids:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.SENDING)
            .values(
                status=DeliveryStatus.QUEUED,
                not_before=not_before,
                claimed_by=None,
                claimed_at=None,
                attempts=Delivery.attempts - 1,
                error=reason[:200],
            )
        )


async def defer_due(session: AsyncSession, now: dt.datetime, until: dt.datetime) -> int:
    """Move every queued row that is due by `now` to `until` (quiet hours); returns how many."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.not_before <= now)
        .values(not_before=until)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_unreachable(session: AsyncSession, chat_id: int, now: dt.datetime) -> None:
    """She blocked the bot or the chat is gone: stop all further bulk sends to her."""
    resident_id = await session.scalar(
        select(Resident.id).where(Resident.telegram_user_id == chat_id)
    )
    if resident_id is None:
        return
    await session.execute(
        update(Resident)
        .where(Resident.id == resident_id, Resident.unreachable_since.is_(None))
        .values(unreachable_since=now)
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.resident_id == resident_id, Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.SKIPPED, error="unreachable")
    )


async def mark_reachable(session: AsyncSession, telegram_user_id: int) -> bool:
    """She unblocked the bot: bulk messages reach her again (skipped ones are not resent)."""
    result = await session.execute(
        update(Resident)
        .where(
            Resident.telegram_user_id == telegram_user_id, Resident.unreachable_since.is_not(None)
        )
        .values(unreachable_since=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def batch_progress(session: AsyncSession, batch: str) -> BatchProgress:
    """How far a batch has got."""
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.batch == batch)
        .group_by(Delivery.status)
    )
    return BatchProgress({DeliveryStatus(status): int(count) for status, count in rows})


async def next_due(session: AsyncSession) -> dt.datetime | None:
    """When the earliest queued row becomes due, so a worker knows when to wake."""
    return await session.scalar(
        select(func.min(Delivery.not_before)).where(Delivery.status == DeliveryStatus.QUEUED)
    )


async def depth(session: AsyncSession) -> int:
    """Messages queued or being sent: the queue depth the metrics show."""
    count = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.status.in_(OPEN_STATUSES))
    )
    return int(count or 0)
