"""Residents and the append-only consent record.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESIDENT_STATUSES = ("onboarding", "active", "waiting_for_area")
_PURPOSES = ("health_data", "matching", "local_info", "feedback")


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_ref", sa.String(length=36), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*_RESIDENT_STATUSES, name="resident_status", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("display_name", sa.String(length=64), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("ward_code", sa.String(length=9), nullable=True),
        sa.Column("district_code", sa.String(length=9), nullable=True),
        sa.Column("waiting_outcode", sa.String(length=4), nullable=True),
        sa.Column("signup_source", sa.String(length=64), nullable=True),
        sa.Column("language_code", sa.String(length=8), nullable=False),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.UTCDateTime(), nullable=False),
        sa.Column("onboarded_at", models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
        sa.UniqueConstraint("person_ref", name=op.f("uq_residents_person_ref")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_residents_telegram_user_id")),
    )
    op.create_index("ix_residents_ward_due", "residents", ["ward_code", "due_date"])

    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_ref", sa.String(length=36), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(*_PURPOSES, name="consent_purpose", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index(
        "ix_consent_events_person_purpose", "consent_events", ["person_ref", "purpose", "id"]
    )
    _forbid_changes_to_consent_events()


def _forbid_changes_to_consent_events() -> None:
    """The consent record is evidence: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION consent_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'consent_events is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events "
            "FOR EACH ROW EXECUTE FUNCTION consent_events_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER consent_events_no_{action.lower()} BEFORE {action} "
                "ON consent_events BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_events_append_only ON consent_events")
        op.execute("DROP FUNCTION IF EXISTS consent_events_append_only()")
    op.drop_index("ix_consent_events_person_purpose", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_index("ix_residents_ward_due", table_name="residents")
    op.drop_table("residents")
