"""Council staff: roles, invitations, the audit trail, midwives' join links, broadcasts, moderation.

Staff rows are never deleted (a revoked member keeps her row, so the audit trail still says who
did what). Rows about a resident (moderation actions) cascade with her resident row, so /forget
erases them in the same DELETE.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
    )


class StaffRole(enum.StrEnum):
    """What a member of staff may do; an admin may do everything."""

    ADMIN = "admin"
    BROADCASTER = "broadcaster"
    MIDWIFE = "midwife"
    MODERATOR = "moderator"


class StaffMember(Base):
    """A member of council or NHS staff who uses the bot's staff commands."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StaffInvite(Base):
    """A single-use, expiring invitation; only the SHA-256 of its token is kept."""

    __tablename__ = "staff_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class AuditEvent(Base):
    """One staff action: who, what, when, target, outcome. The database refuses changes."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # The member's Telegram id, or None for the command line on the server.
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    # Never a resident's name or Telegram id: residents appear by pseudonymous person_ref.
    target: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(String(200))
    # Where it was done: "bot", "console" or "cli" (None: written before this was recorded).
    via: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        # The bot's database role may only add and read rows here (bot/db_roles.py).
        {"info": {"append_only": True}},
    )


class JoinLink(Base):
    """A midwife's referral code for her clinic or team; sign-ups carry it as signup_source."""

    __tablename__ = "join_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    clinic: Mapped[str] = mapped_column(String(100))
    district_code: Mapped[str | None] = mapped_column(String(9))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Sign-ups after this moment still work but are no longer counted for the link.
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class BroadcastStatus(enum.StrEnum):
    """Where a broadcast is."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class BroadcastPurpose(enum.StrEnum):
    """Which consent the audience needs (see the README)."""

    # About the service itself; everyone signed up gets these.
    SERVICE = "service"
    # Optional information; only residents who said yes to local information.
    LOCAL_INFO = "local_info"


class Broadcast(Base):
    """A council message to many residents, from draft to final report."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[BroadcastStatus] = mapped_column(_enum(BroadcastStatus, "broadcast_status"))
    purpose: Mapped[BroadcastPurpose] = mapped_column(_enum(BroadcastPurpose, "broadcast_purpose"))
    text: Mapped[str] = mapped_column(Text)
    # Staff's translations of `text`, by language code; a resident whose language has none gets
    # the English text.
    translations: Mapped[dict[str, str] | None] = mapped_column(JSON)
    button_text: Mapped[str | None] = mapped_column(String(40))
    button_url: Mapped[str | None] = mapped_column(String(300))
    # {"kind": "everyone" | "districts" | "wards" | "due_dates" | "trimester" | "postnatal", ...}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    paid: Mapped[bool] = mapped_column(default=False)
    # Bumped by every change, so a button pressed on an older preview does nothing.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    recipients: Mapped[int | None] = mapped_column(Integer)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_broadcasts_status_send_at", "status", "send_at"),)


class ModerationAction(enum.StrEnum):
    """What a moderator did about a report."""

    WARN = "warn"
    SUSPEND = "suspend"
    DISMISS = "dismiss"
    LIFT = "lift"


class ModerationDecision(Base):
    """A moderator's decision about a resident (and the report it answers, if any)."""

    __tablename__ = "moderation_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    # The match report it answers; a number, not a foreign key, as reports live with matching.
    report_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[ModerationAction] = mapped_column(_enum(ModerationAction, "moderation_action"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_moderation_decisions_resident_id", "resident_id"),
        Index("ix_moderation_decisions_report_id", "report_id"),
    )
