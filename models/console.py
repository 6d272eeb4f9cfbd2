"""Web console sign-ins: desk sessions and the one-time links the bot sends.

Only SHA-256 digests of the session cookie and the link token are stored, like staff invites: a
copy of the database lets nobody sign in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ConsoleSession(Base):
    """A browser's session: waiting for approval (no staff yet) or signed in as a member."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # Forms carry this; it is random per session, so a page of another site cannot know it.
    csrf_token: Mapped[str] = mapped_column(String(64))
    # The short code a desk shows, for `/console CODE` from the member's phone (waiting only).
    pair_code: Mapped[str | None] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Set when `/console CODE` approves a waiting session; its browser then gets a new session.
    approved_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_console_sessions_pair_code", "pair_code"),
        Index("ix_console_sessions_staff_id", "staff_id"),
    )


class ConsoleLink(Base):
    """A sign-in link the bot sent: works once, for ten minutes."""

    __tablename__ = "console_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class BotHeartbeat(Base):
    """The running bot's sign of life, written by its leader every half minute.

    One row per role ("leader"): the console reads it to say whether the bot is running and
    whether it uses the content loaded last.
    """

    __tablename__ = "bot_heartbeats"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # The content version the bot has in memory (ContentLibrary's digest), if any.
    content_digest: Mapped[str | None] = mapped_column(String(64))
