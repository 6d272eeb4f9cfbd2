"""Matching: the pool flag on residents, suggestions, introductions, safety and cohort groups.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUGGESTION_STATUSES = ("open", "taken", "lapsed", "withdrawn")
_INTRODUCTION_STATUSES = ("requested", "introduced", "declined", "expired", "cancelled")
_OUTBOX_KINDS = (
    "retract_card",
    "retract_request",
    "retract_introduction",
    "retract_list",
    "not_this_time",
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def _resident(column: str, table: str) -> tuple[sa.Column[int], sa.ForeignKeyConstraint]:
    """A column naming a resident: erased with her (ON DELETE CASCADE)."""
    return (
        sa.Column(column, sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            [column],
            ["residents.id"],
            name=op.f(f"fk_{table}_{column}_residents"),
            ondelete="CASCADE",
        ),
    )


def upgrade() -> None:
    op.add_column(
        "residents",
        sa.Column("matching_consent", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("residents", sa.Column("last_active_at", models.UTCDateTime(), nullable=True))
    op.create_index(
        "ix_residents_match_pool",
        "residents",
        ["ward_code", "matching_consent", "status", "due_date"],
    )
    _copy_current_matching_consent()

    op.create_table(
        "match_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        *_resident("viewer_id", "match_suggestions"),
        *_resident("candidate_id", "match_suggestions"),
        sa.Column("status", _enum(_SUGGESTION_STATUSES, "suggestion_status"), nullable=False),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", models.UTCDateTime(), nullable=False),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_suggestions")),
    )
    op.create_index(
        "ix_match_suggestions_candidate_open",
        "match_suggestions",
        ["candidate_id", "status", "expires_at"],
    )
    op.create_index(
        "ix_match_suggestions_viewer_status", "match_suggestions", ["viewer_id", "status"]
    )

    op.create_table(
        "match_introductions",
        sa.Column("id", sa.Integer(), nullable=False),
        *_resident("requester_id", "match_introductions"),
        *_resident("recipient_id", "match_introductions"),
        sa.Column("pair_key", sa.String(length=41), nullable=False),
        sa.Column("status", _enum(_INTRODUCTION_STATUSES, "introduction_status"), nullable=False),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", models.UTCDateTime(), nullable=False),
        sa.Column("decided_at", models.UTCDateTime(), nullable=True),
        sa.Column("request_message_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_intro_message_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient_intro_message_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "requester_id <> recipient_id", name=op.f("ck_match_introductions_two_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_introductions")),
        sa.UniqueConstraint("pair_key", name=op.f("uq_match_introductions_pair_key")),
    )
    op.create_index(
        "ix_match_introductions_requester_status",
        "match_introductions",
        ["requester_id", "status"],
    )
    op.create_index(
        "ix_match_introductions_recipient_status",
        "match_introductions",
        ["recipient_id", "status", "expires_at"],
    )
    op.create_index(
        "ix_match_introductions_status_expires", "match_introductions", ["status", "expires_at"]
    )

    op.create_table(
        "match_blocks",
        *_resident("blocker_id", "match_blocks"),
        *_resident("blocked_id", "match_blocks"),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_match_blocks")),
    )
    op.create_index("ix_match_blocks_blocked_id", "match_blocks", ["blocked_id"])

    op.create_table(
        "match_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        *_resident("reporter_id", "match_reports"),
        *_resident("reported_id", "match_reports"),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.Column("reason_added_at", models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_reports")),
    )
    op.create_index("ix_match_reports_reporter_id", "match_reports", ["reporter_id"])
    op.create_index("ix_match_reports_reported_id", "match_reports", ["reported_id"])

    op.create_table(
        "match_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        *_resident("recipient_id", "match_outbox"),
        sa.Column("kind", _enum(_OUTBOX_KINDS, "outbox_kind"), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_outbox")),
    )
    op.create_index("ix_match_outbox_recipient_id", "match_outbox", ["recipient_id"])

    op.create_table(
        "match_mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        *_resident("viewer_id", "match_mentions"),
        *_resident("subject_id", "match_mentions"),
        sa.Column("kind", _enum(_OUTBOX_KINDS, "outbox_kind"), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_mentions")),
    )
    op.create_index("ix_match_mentions_subject_id", "match_mentions", ["subject_id"])
    op.create_index("ix_match_mentions_viewer_id", "match_mentions", ["viewer_id"])

    op.create_table(
        "match_newcomer_news",
        *_resident("recipient_id", "match_newcomer_news"),
        *_resident("newcomer_id", "match_newcomer_news"),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("recipient_id", "newcomer_id", name=op.f("pk_match_newcomer_news")),
    )
    op.create_index("ix_match_newcomer_news_newcomer_id", "match_newcomer_news", ["newcomer_id"])

    op.create_table(
        "match_newcomer_digests",
        *_resident("resident_id", "match_newcomer_digests"),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_match_newcomer_digests")),
    )

    op.create_table(
        "match_cohort_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("bot_can_invite", sa.Boolean(), nullable=False),
        sa.Column("ward_code", sa.String(length=9), nullable=True),
        sa.Column("district_code", sa.String(length=9), nullable=True),
        sa.Column("first_due_month", sa.Date(), nullable=True),
        sa.Column("last_due_month", sa.Date(), nullable=True),
        sa.Column("registered_by", sa.BigInteger(), nullable=True),
        sa.Column("registered_at", models.UTCDateTime(), nullable=True),
        sa.Column("updated_at", models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_cohort_groups")),
        sa.UniqueConstraint("chat_id", name=op.f("uq_match_cohort_groups_chat_id")),
    )

    op.create_table(
        "match_cohort_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        *_resident("resident_id", "match_cohort_invites"),
        sa.Column("invite_link", sa.String(length=128), nullable=False),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["match_cohort_groups.id"],
            name=op.f("fk_match_cohort_invites_group_id_match_cohort_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_cohort_invites")),
    )
    op.create_index(
        "ix_match_cohort_invites_resident_group",
        "match_cohort_invites",
        ["resident_id", "group_id", "expires_at"],
    )
    op.create_index("ix_match_cohort_invites_group_id", "match_cohort_invites", ["group_id"])


def _copy_current_matching_consent() -> None:
    """Residents who already said yes to matching join the pool: latest choice per person."""
    op.execute(
        sa.text(
            "UPDATE residents SET matching_consent = :yes WHERE EXISTS ("
            " SELECT 1 FROM consent_events e"
            " WHERE e.person_ref = residents.person_ref AND e.purpose = 'matching'"
            " AND e.granted = :yes AND e.id = ("
            "  SELECT max(l.id) FROM consent_events l"
            "  WHERE l.person_ref = e.person_ref AND l.purpose = 'matching'))"
        ).bindparams(sa.bindparam("yes", True, type_=sa.Boolean()))
    )


def downgrade() -> None:
    op.drop_index("ix_match_cohort_invites_group_id", table_name="match_cohort_invites")
    op.drop_index("ix_match_cohort_invites_resident_group", table_name="match_cohort_invites")
    op.drop_table("match_cohort_invites")
    op.drop_table("match_cohort_groups")
    op.drop_table("match_newcomer_digests")
    op.drop_index("ix_match_newcomer_news_newcomer_id", table_name="match_newcomer_news")
    op.drop_table("match_newcomer_news")
    op.drop_index("ix_match_mentions_viewer_id", table_name="match_mentions")
    op.drop_index("ix_match_mentions_subject_id", table_name="match_mentions")
    op.drop_table("match_mentions")
    op.drop_index("ix_match_outbox_recipient_id", table_name="match_outbox")
    op.drop_table("match_outbox")
    op.drop_index("ix_match_reports_reported_id", table_name="match_reports")
    op.drop_index("ix_match_reports_reporter_id", table_name="match_reports")
    op.drop_table("match_reports")
    op.drop_index("ix_match_blocks_blocked_id", table_name="match_blocks")
    op.drop_table("match_blocks")
    op.drop_index("ix_match_introductions_status_expires", table_name="match_introductions")
    op.drop_index("ix_match_introductions_recipient_status", table_name="match_introductions")
    op.drop_index("ix_match_introductions_requester_status", table_name="match_introductions")
    op.drop_table("match_introductions")
    op.drop_index("ix_match_suggestions_viewer_status", table_name="match_suggestions")
    op.drop_index("ix_match_suggestions_candidate_open", table_name="match_suggestions")
    op.drop_table("match_suggestions")
    op.drop_index("ix_residents_match_pool", table_name="residents")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("last_active_at")
        batch.drop_column("matching_consent")
