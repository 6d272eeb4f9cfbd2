"""Everything the bot sends in bulk: one row per (resident, content item), sent at most once."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false

from models.base import Base, UTCDateTime

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for volume.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")


class DeliveryStatus(enum.StrEnum):
    """Where one message is in its life."""

    QUEUED = "queued"
    # Claimed by a worker and possibly in flight: the state is stored before the send.
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Not sent because the resident can't be reached (blocked the bot, chat gone).
    SKIPPED = "skipped"


class Delivery(Base):
    """One message to one resident. The unique key makes planning twice harmless."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    # What was sent, e.g. "week:20", "service:CHE-12:2027-03", "broadcast:17".
    content_key: Mapped[str] = mapped_column(String(80))
    # Groups rows for progress and cancellation, e.g. "broadcast:17" or "daily:2026-11-30".
    batch: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[dict[str, Any]]] | None] = mapped_column(JSON)
    # How to word it again when sent, in her language then, e.g. "msg:life.overdue_question" or
    # "week:pregnancy:20" (bot/delivery/render.py); `text` is the English it was queued with.
    template: Mapped[str | None] = mapped_column(String(80))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    paid: Mapped[bool] = mapped_column(default=False)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(
            DeliveryStatus,
            name="delivery_status",
            native_enum=False,
            length=12,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=DeliveryStatus.QUEUED,
    )
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("resident_id", "content_key", name="uq_deliveries_resident_content"),
        Index("ix_deliveries_claim", "status", "not_before", "id"),
        Index("ix_deliveries_batch_status", "batch", "status"),
        Index("ix_deliveries_resident_id", "resident_id"),
    )


class SendSlot(Base):
    """One message's place within Telegram's flood limits, shared by every worker.

    Taken before the message goes, answered once Telegram answers; it counts from `taken_at`
    until a second after `answered_at` (bot/delivery/send_limits.py). Times are seconds since
    the epoch. UNLOGGED on PostgreSQL: rows matter for seconds, and losing them in a crash only
    lets the next second start afresh. Taken through the function take_send_slot (migration 0033).
    """

    __tablename__ = "send_slots"

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[bool] = mapped_column(Boolean)
    # A reply (migration 0035): bulk sends keep their reserve for replies while these come.
    reply: Mapped[bool] = mapped_column(Boolean, server_default=false())
    taken_at: Mapped[float] = mapped_column(Float)
    answered_at: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_send_slots_chat_taken", "chat_id", "taken_at"),
        Index("ix_send_slots_paid_taken", "paid", "taken_at"),
    )
