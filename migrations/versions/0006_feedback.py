"""Feedback: ratings with the loneliness answer, comments kept apart, and feedback prompts.

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOMENTS = ("anytime", "two_weeks", "after_introduction", "after_birth")
_STAGE_BANDS = (
    "first_trimester",
    "second_trimester",
    "third_trimester",
    "after_due_date",
    "unknown",
)
_LONELINESS = ("often_or_always", "some_of_the_time", "occasionally", "hardly_ever", "never")
_PROMPT_STATUSES = (
    "pending",
    "sent",
    "answered",
    "skipped",
    "cancelled",
    "expired",
    "undeliverable",
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def _resident_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["resident_id"],
        ["residents.id"],
        name=op.f(f"fk_{table}_resident_id_residents"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "feedback_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("moment", _enum(_MOMENTS, "feedback_moment"), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("loneliness", _enum(_LONELINESS, "loneliness"), nullable=True),
        sa.Column("service_ref", sa.String(length=64), nullable=True),
        sa.Column("district_code", sa.String(length=9), nullable=True),
        sa.Column("stage_band", _enum(_STAGE_BANDS, "stage_band"), nullable=False),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "rating BETWEEN 1 AND 5", name=op.f("ck_feedback_responses_rating_range")
        ),
        _resident_fk("feedback_responses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_responses")),
    )
    op.create_index(
        op.f("ix_feedback_responses_resident_id"), "feedback_responses", ["resident_id"]
    )
    op.create_index(op.f("ix_feedback_responses_created_at"), "feedback_responses", ["created_at"])

    op.create_table(
        "feedback_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("service_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        _resident_fk("feedback_comments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_comments")),
    )
    op.create_index(op.f("ix_feedback_comments_resident_id"), "feedback_comments", ["resident_id"])
    op.create_index(op.f("ix_feedback_comments_created_at"), "feedback_comments", ["created_at"])

    op.create_table(
        "feedback_prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("moment", _enum(_MOMENTS, "feedback_moment"), nullable=False),
        sa.Column("status", _enum(_PROMPT_STATUSES, "feedback_prompt_status"), nullable=False),
        sa.Column("due_at", models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", models.UTCDateTime(), nullable=True),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.UTCDateTime(), nullable=False),
        _resident_fk("feedback_prompts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_prompts")),
    )
    op.create_index(op.f("ix_feedback_prompts_resident_id"), "feedback_prompts", ["resident_id"])
    op.create_index("ix_feedback_prompts_status_due", "feedback_prompts", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_prompts_status_due", table_name="feedback_prompts")
    op.drop_index(op.f("ix_feedback_prompts_resident_id"), table_name="feedback_prompts")
    op.drop_table("feedback_prompts")
    op.drop_index(op.f("ix_feedback_comments_created_at"), table_name="feedback_comments")
    op.drop_index(op.f("ix_feedback_comments_resident_id"), table_name="feedback_comments")
    op.drop_table("feedback_comments")
    op.drop_index(op.f("ix_feedback_responses_created_at"), table_name="feedback_responses")
    op.drop_index(op.f("ix_feedback_responses_resident_id"), table_name="feedback_responses")
    op.drop_table("feedback_responses")
