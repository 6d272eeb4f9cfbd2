"""Feedback from residents: ratings, the ONS loneliness answer, comments, and when to ask."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class FeedbackMoment(enum.StrEnum):
    """Why she was giving feedback: she chose to, or we asked at a moment that matters."""

    ANYTIME = "anytime"
    TWO_WEEKS = "two_weeks"
    AFTER_INTRODUCTION = "after_introduction"
    AFTER_BIRTH = "after_birth"


class StageBand(enum.StrEnum):
    """A coarse pregnancy stage, kept instead of her due date so reports can't single her out."""

    FIRST_TRIMESTER = "first_trimester"
    SECOND_TRIMESTER = "second_trimester"
    THIRD_TRIMESTER = "third_trimester"
    AFTER_DUE_DATE = "after_due_date"
    UNKNOWN = "unknown"


class Loneliness(enum.StrEnum):
    """The ONS direct measure: "How often do you feel lonely?"."""

    OFTEN_OR_ALWAYS = "often_or_always"
    SOME_OF_THE_TIME = "some_of_the_time"
    OCCASIONALLY = "occasionally"
    HARDLY_EVER = "hardly_ever"
    NEVER = "never"


class PromptStatus(enum.StrEnum):
    """Where a feedback question we plan to ask her stands."""

    PENDING = "pending"
    SENT = "sent"
    ANSWERED = "answered"
    SKIPPED = "skipped"
    # She withdrew the feedback consent, so the question will never be asked.
    CANCELLED = "cancelled"
    # The moment passed without a chance to ask kindly (quiet hours, the fortnight rule).
    EXPIRED = "expired"
    UNDELIVERABLE = "undeliverable"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
    )


class FeedbackResponse(Base):
    """One rating, with only the context reports need; her words live apart, in comments."""

    __tablename__ = "feedback_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    moment: Mapped[FeedbackMoment] = mapped_column(_enum(FeedbackMoment, "feedback_moment"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    loneliness: Mapped[Loneliness | None] = mapped_column(_enum(Loneliness, "loneliness"))
    # An entry in the local services directory the rating is about, if any.
    service_ref: Mapped[str | None] = mapped_column(String(64))
    # Copied at the time she answered: reports describe her then, not after she moved.
    district_code: Mapped[str | None] = mapped_column(String(9))
    stage_band: Mapped[StageBand] = mapped_column(_enum(StageBand, "stage_band"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)

    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)


class FeedbackComment(Base):
    """Free text, deliberately not linked to a rating, district or stage."""

    __tablename__ = "feedback_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    service_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class FeedbackPrompt(Base):
    """A feedback question due at a moment that matters, and what became of it."""

    __tablename__ = "feedback_prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    moment: Mapped[FeedbackMoment] = mapped_column(_enum(FeedbackMoment, "feedback_moment"))
    status: Mapped[PromptStatus] = mapped_column(_enum(PromptStatus, "feedback_prompt_status"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_feedback_prompts_status_due", "status", "due_at"),)
