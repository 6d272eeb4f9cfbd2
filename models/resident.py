"""A mum-to-be who has agreed to us keeping her pregnancy details."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Boolean, Date, Enum, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ResidentStatus(enum.StrEnum):
    """Where a resident is in her journey."""

    ONBOARDING = "onboarding"
    ACTIVE = "active"
    # Lives outside the covered area and asked to be told when the service reaches her.
    WAITING_FOR_AREA = "waiting_for_area"


class Resident(Base):
    """Her profile. Deleted outright by /forget; consent history lives apart, by person_ref."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random and never shown: the only link to her pseudonymised consent history.
    person_ref: Mapped[str] = mapped_column(String(36), unique=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[ResidentStatus] = mapped_column(
        Enum(
            ResidentStatus,
            name="resident_status",
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
    )
    display_name: Mapped[str | None] = mapped_column(String(64))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    # What she typed, worked out as a date and shown to her, until she says it is right.
    pending_due_date: Mapped[dt.date | None] = mapped_column(Date)
    # She said she doesn't know her due date yet; cleared when she gives it.
    due_date_unknown_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ward_code: Mapped[str | None] = mapped_column(String(9))
    district_code: Mapped[str | None] = mapped_column(String(9))
    # Only the postcode district (e.g. "CO10"), and only for someone outside the area.
    waiting_outcode: Mapped[str | None] = mapped_column(String(4))
    signup_source: Mapped[str | None] = mapped_column(String(64))
    language_code: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    onboarded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Set when Telegram says she blocked the bot or the chat is gone; bulk sends skip her.
    unreachable_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    # Matching reads these on every candidate search. matching_consent mirrors her latest
    # matching choice in consent_events (still the record) and is set in the same transaction,
    # so the search needs no per-row look-up of the append-only history.
    matching_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The daily local-information plan reads this for every resident; like matching_consent it
    # mirrors her latest local-information choice in consent_events, set in the same transaction.
    local_info_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The last time she used matching; ranks equally good candidates.
    last_active_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Set when something takes her out of matching whatever her consent says: a moderator's
    # suspension, or her pregnancy ending. A column, not a join, so the search stays index-only.
    matching_paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The one-time code in the /forget confirmation she was last shown: callback data is
    # hers to forge, so erasure needs this code, and a new question or "no" retires the old one.
    forget_nonce: Mapped[str | None] = mapped_column(String(32))
    # Her keyed hash (as in safeguarding_records), set once a record names her as the one who
    # blocked or reported someone, so signing-up again can find her and restore the block.
    safeguarding_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_residents_ward_due", "ward_code", "due_date"),
        Index("ix_residents_match_pool", "ward_code", "matching_consent", "status", "due_date"),
    )
