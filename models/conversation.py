"""Where each resident is in a multi-step flow, and which of her updates have been handled.

Kept in the database, not in a worker's memory, so a restart, a deploy or another worker
carries on exactly where she was (bot/ordered.py reads and writes these around every update).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ConversationState(Base):
    """One running conversation (a ConversationHandler, by name) of one person in one chat."""

    __tablename__ = "conversation_states"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The handler's state: an int or a str, as ConversationHandler keeps it.
    state: Mapped[Any] = mapped_column(JSON)
    # For conversations with a timeout: after this moment the conversation has ended.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ConversationNotes(Base):
    """What a running flow remembers between her messages (PTB's user_data), as JSON."""

    __tablename__ = "conversation_notes"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class UpdateInbox(Base):
    """Every update that reached a worker: handled in update_id order per chat, and only once."""

    __tablename__ = "update_inbox"
    __table_args__ = (Index("ix_update_inbox_chat_pending", "chat_id", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
