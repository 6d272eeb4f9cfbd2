"""Matching: suggestions, introductions, blocks, reports, and the cohort group chats.

Every row that names a resident points at residents.id with ON DELETE CASCADE, so /forget erases
her part in matching with the one DELETE of her resident row. Blocks and reports about her are
first copied, under keyed hashes, to safeguarding_records (models/safeguarding.py).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
)
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


def _resident_fk() -> ForeignKey:
    return ForeignKey("residents.id", ondelete="CASCADE")


class SuggestionStatus(enum.StrEnum):
    """A candidate shown to someone: open until she acts on it or it lapses."""

    OPEN = "open"
    # She said hello: the introduction row carries it on from here.
    TAKEN = "taken"
    # Replaced by newer suggestions, or past its time.
    LAPSED = "lapsed"
    # One of the two withdrew matching consent, blocked or reported the other.
    WITHDRAWN = "withdrawn"


class IntroductionStatus(enum.StrEnum):
    """Where a request to be introduced stands; the council's report counts these."""

    REQUESTED = "requested"
    INTRODUCED = "introduced"
    DECLINED = "declined"
    EXPIRED = "expired"
    # Withdrawn consent, a block or a report ended it before an answer.
    CANCELLED = "cancelled"


class OutboxKind(enum.StrEnum):
    """Something to tell or tidy in one resident's chat after another resident's change."""

    RETRACT_CARD = "retract_card"
    RETRACT_REQUEST = "retract_request"
    RETRACT_INTRODUCTION = "retract_introduction"
    RETRACT_LIST = "retract_list"
    NOT_THIS_TIME = "not_this_time"


class MatchSuggestion(Base):
    """One candidate card shown to a viewer (the 'proposals' the fairness cap counts)."""

    __tablename__ = "match_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int] = mapped_column(_resident_fk())
    candidate_id: Mapped[int] = mapped_column(_resident_fk())
    status: Mapped[SuggestionStatus] = mapped_column(_enum(SuggestionStatus, "suggestion_status"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # The card in the viewer's chat, so it can be taken back if the candidate leaves.
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_match_suggestions_candidate_open", "candidate_id", "status", "expires_at"),
        Index("ix_match_suggestions_viewer_status", "viewer_id", "status"),
    )


class MatchIntroduction(Base):
    """A request to be introduced, and its outcome; at most one per pair of residents."""

    __tablename__ = "match_introductions"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(_resident_fk())
    recipient_id: Mapped[int] = mapped_column(_resident_fk())
    # "lowest id:highest id": unique, so two people saying hello to each other at the same moment
    # meet one row, and the second hello becomes a yes.
    pair_key: Mapped[str] = mapped_column(String(41), unique=True)
    status: Mapped[IntroductionStatus] = mapped_column(
        _enum(IntroductionStatus, "introduction_status")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    request_message_id: Mapped[int | None] = mapped_column(BigInteger)
    requester_intro_message_id: Mapped[int | None] = mapped_column(BigInteger)
    recipient_intro_message_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("requester_id <> recipient_id", name="two_people"),
        Index("ix_match_introductions_requester_status", "requester_id", "status"),
        Index("ix_match_introductions_recipient_status", "recipient_id", "status", "expires_at"),
        Index("ix_match_introductions_status_expires", "status", "expires_at"),
    )


class MatchBlock(Base):
    """She never wants to be matched with this person; the other is not told."""

    __tablename__ = "match_blocks"

    blocker_id: Mapped[int] = mapped_column(_resident_fk(), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(_resident_fk(), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_match_blocks_blocked_id", "blocked_id"),)


class MatchReport(Base):
    """A report for the council's moderators: who, about whom, when, and an optional reason."""

    __tablename__ = "match_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(_resident_fk())
    reported_id: Mapped[int] = mapped_column(_resident_fk())
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    reason_added_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_match_reports_reporter_id", "reporter_id"),
        Index("ix_match_reports_reported_id", "reported_id"),
    )


class MatchOutbox(Base):
    """A message to send or tidy in one resident's chat; delivered after the change commits."""

    __tablename__ = "match_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The person whose chat it is; never the person who left or withdrew.
    recipient_id: Mapped[int] = mapped_column(_resident_fk())
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind, "outbox_kind"))
    message_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_match_outbox_recipient_id", "recipient_id"),)


class MatchMention(Base):
    """A message in the viewer's chat that names the subject (a /mymatches list, a re-sent
    request), so it can be taken back if the subject withdraws or is erased."""

    __tablename__ = "match_mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int] = mapped_column(_resident_fk())
    subject_id: Mapped[int] = mapped_column(_resident_fk())
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind, "outbox_kind"))
    message_id: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_match_mentions_subject_id", "subject_id"),
        Index("ix_match_mentions_viewer_id", "viewer_id"),
    )


class NewcomerNews(Base):
    """A new mum near her joined: told in at most one daytime message a day."""

    __tablename__ = "match_newcomer_news"

    recipient_id: Mapped[int] = mapped_column(_resident_fk(), primary_key=True)
    newcomer_id: Mapped[int] = mapped_column(_resident_fk(), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_match_newcomer_news_newcomer_id", "newcomer_id"),)


class NewcomerDigest(Base):
    """The UK date she last had a 'new mums near you' message."""

    __tablename__ = "match_newcomer_digests"

    resident_id: Mapped[int] = mapped_column(_resident_fk(), primary_key=True)
    sent_on: Mapped[dt.date] = mapped_column(Date)


class CohortGroup(Base):
    """A Telegram group the bot administers, for a ward or district and a due-month range."""

    __tablename__ = "match_cohort_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(128))
    # Learnt from Telegram's my_chat_member updates: invite links need an admin who may invite.
    bot_can_invite: Mapped[bool] = mapped_column(Boolean)
    # Exactly one of ward_code and district_code once staff have registered the group.
    ward_code: Mapped[str | None] = mapped_column(String(9))
    district_code: Mapped[str | None] = mapped_column(String(9))
    first_due_month: Mapped[dt.date | None] = mapped_column(Date)
    last_due_month: Mapped[dt.date | None] = mapped_column(Date)
    registered_by: Mapped[int | None] = mapped_column(BigInteger)
    registered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CohortInvite(Base):
    """A single-use, expiring invite link made for one resident when she asked for it."""

    __tablename__ = "match_cohort_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("match_cohort_groups.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(_resident_fk())
    invite_link: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_match_cohort_invites_resident_group", "resident_id", "group_id", "expires_at"),
        Index("ix_match_cohort_invites_group_id", "group_id"),
    )


__all__ = [
    "CohortGroup",
    "CohortInvite",
    "IntroductionStatus",
    "MatchBlock",
    "MatchIntroduction",
    "MatchMention",
    "MatchOutbox",
    "MatchReport",
    "MatchSuggestion",
    "NewcomerDigest",
    "NewcomerNews",
    "OutboxKind",
    "SuggestionStatus",
]
