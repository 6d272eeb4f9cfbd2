"""The council's content as loaded from content/, the daily planning record, and life events."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ContentMessage(Base):
    """One week's message, already rendered as Telegram HTML, e.g. key "pregnancy:20"."""

    __tablename__ = "content_messages"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    series: Mapped[str] = mapped_column(String(20))
    week: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    # The planner joins on (series, week) computed per resident.
    __table_args__ = (UniqueConstraint("series", "week", name="uq_content_messages_series_week"),)


class ContentCategory(Base):
    """A kind of local service and the stages of her journey when it is worth telling her."""

    __tablename__ = "content_categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer)
    pregnancy_from: Mapped[int | None] = mapped_column(Integer)
    pregnancy_to: Mapped[int | None] = mapped_column(Integer)
    postnatal_from: Mapped[int | None] = mapped_column(Integer)
    postnatal_to: Mapped[int | None] = mapped_column(Integer)
    # Still offered to someone whose pregnancy has ended (e.g. mental health support).
    after_loss: Mapped[bool] = mapped_column(default=False)


class WardDigest(Base):
    """The "near you" message for one ward and category, rendered when content is loaded."""

    __tablename__ = "content_ward_digests"

    ward_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class ContentTranslation(Base):
    """A week message or "near you" message in another language, rendered when content is loaded.

    Keys: a week message's key ("pregnancy:20") or "digest:<ward code>:<category>". A missing
    row means she gets the English text (content_messages, content_ward_digests).
    """

    __tablename__ = "content_translations"

    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class ContentLibrary(Base):
    """The whole validated content set as JSON (one row), read by the bot into memory."""

    __tablename__ = "content_library"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    sample: Mapped[bool] = mapped_column(default=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PlanningRun(Base):
    """One daily planning run per local date: how a restart knows whether today's has happened."""

    __tablename__ = "planning_runs"

    local_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    queued: Mapped[int] = mapped_column(Integer)


class LifeStage(enum.StrEnum):
    """Where she is: still pregnant, her baby has arrived, or her pregnancy has ended."""

    PREGNANT = "pregnant"
    BABY = "baby"
    ENDED = "ended"


class LifeEvent(Base):
    """What she told us about her pregnancy; no row means she is still pregnant."""

    __tablename__ = "life_events"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[LifeStage] = mapped_column(
        Enum(
            LifeStage,
            name="life_stage",
            native_enum=False,
            length=12,
            values_callable=lambda e: [m.value for m in e],
        ),
    )
    baby_born_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    # After a pregnancy ends she may keep her account for local information only.
    keep_local_info: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
