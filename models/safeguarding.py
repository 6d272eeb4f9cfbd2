"""What survives a resident's erasure for safeguarding: keyed hashes, not people.

When someone who was suspended, blocked or reported erases her data, the suspension and what
others did about her are kept under an HMAC of her Telegram id (never the id itself), so signing
up again with the same account brings them back. The person who blocked or reported appears only
as her own keyed hash, so her side goes when she erases hers.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class SafeguardingKind(enum.StrEnum):
    """What a safeguarding record keeps."""

    # A moderator's suspension from matching (the moderator's staff id is kept to restore it).
    SUSPENSION = "suspension"
    # Someone never wants to be matched with her.
    BLOCK = "block"
    # Someone reported her, with the reason she typed (the moderators' evidence).
    REPORT = "report"


class SafeguardingRecord(Base):
    """One suspension, block or report about someone who erased her data."""

    __tablename__ = "safeguarding_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    # HMAC-SHA-256 (hex) of her Telegram user id, keyed with SAFEGUARDING_SECRET.
    subject_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[SafeguardingKind] = mapped_column(
        Enum(
            SafeguardingKind,
            name="safeguarding_kind",
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    # The keyed hash of who blocked or reported her; None for a suspension.
    other_key: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    # A report a moderator had already decided on is kept as evidence, not queued again.
    decided: Mapped[bool] = mapped_column(default=False)
    # A number, not a foreign key: staff rows are never deleted.
    staff_id: Mapped[int | None] = mapped_column(Integer)
    # When the suspension, block or report was made.
    happened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # When she erased her data; the retention limit counts from here.
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_safeguarding_records_subject_key", "subject_key"),
        Index("ix_safeguarding_records_other_key", "other_key"),
        Index("ix_safeguarding_records_recorded_at", "recorded_at"),
    )


__all__ = ["SafeguardingKind", "SafeguardingRecord"]
