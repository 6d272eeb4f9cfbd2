"""The append-only record of every consent choice, and the texts residents were shown."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, Index, String, Text
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
    """One choice, as made: a consent receipt (Kantara Consent Receipt, ICO consent guidance).

    Database triggers refuse UPDATE, DELETE, REPLACE and TRUNCATE on this table.
    """

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The receipt's id she sees in /privacy and /mydata (Kantara: consentReceiptID).
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True)
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
    # "explicit": she pressed a button saying yes or no to this purpose alone.
    consent_type: Mapped[str] = mapped_column(String(20))
    notice_version: Mapped[str] = mapped_column(String(32))
    # The SHA-256 of the text she was shown; the text itself is in consent_texts (when kept).
    text_sha256: Mapped[str] = mapped_column(String(64))
    # The catalogue's language she read it in.
    language: Mapped[str] = mapped_column(String(8))
    # Who was responsible, as the notice named them then; None for choices recorded before
    # these were kept (migration 0011).
    controller_name: Mapped[str | None] = mapped_column(String(100))
    controller_contact: Mapped[str | None] = mapped_column(String(200))
    notice_url: Mapped[str | None] = mapped_column(String(300))
    # Whose law applies (ISO 3166 code: "GB", for UK GDPR).
    jurisdiction: Mapped[str] = mapped_column(String(8))
    method: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_consent_events_person_purpose", "person_ref", "purpose", "id"),
        # The bot's database role may only add and read rows here (bot/db_roles.py).
        {"info": {"append_only": True}},
    )


class ConsentText(Base):
    """Each distinct text shown with a consent question, kept once under its SHA-256.

    So "what she was told" can be shown, not only proved. Only bot-written texts come here
    (questions, the privacy choices), never anything a resident wrote. Choices recorded before
    texts were kept (migration 0011) have a fingerprint with no row here: the text is unknown.
    """

    __tablename__ = "consent_texts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    first_shown_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    # Append-only like the record that points at it.
    __table_args__ = ({"info": {"append_only": True}},)
