"""The append-only record of every consent choice."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ConsentPurpose(enum.StrEnum):
    """What she can agree to; health data is required to use the service at all."""

    HEALTH_DATA = "health_data"
    MATCHING = "matching"
    LOCAL_INFO = "local_info"
    FEEDBACK = "feedback"


OPTIONAL_PURPOSES: tuple[ConsentPurpose, ...] = (
    ConsentPurpose.MATCHING,
    ConsentPurpose.LOCAL_INFO,
    ConsentPurpose.FEEDBACK,
)


class ConsentEvent(Base):
    """One choice, as made. Database triggers refuse UPDATE and DELETE on this table."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Not a foreign key: the history must outlive the resident row when she is forgotten.
    person_ref: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[ConsentPurpose] = mapped_column(
        Enum(
            ConsentPurpose,
            name="consent_purpose",
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
    )
    granted: Mapped[bool] = mapped_column(Boolean)
    notice_version: Mapped[str] = mapped_column(String(32))
    text_sha256: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_consent_events_person_purpose", "person_ref", "purpose", "id"),
        # The bot's database role may only add and read rows here (bot/db_roles.py).
        {"info": {"append_only": True}},
    )
