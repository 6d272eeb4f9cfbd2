"""Council content (week messages, service digests, the library), planning runs, life events.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGES = ("pregnant", "baby", "ended")


def upgrade() -> None:
    op.add_column(
        "residents",
        sa.Column("local_info_consent", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    _copy_current_local_info_consent()
    op.create_table(
        "content_messages",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("series", sa.String(length=20), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_content_messages")),
        sa.UniqueConstraint("series", "week", name="uq_content_messages_series_week"),
    )
    op.create_table(
        "content_categories",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("pregnancy_from", sa.Integer(), nullable=True),
        sa.Column("pregnancy_to", sa.Integer(), nullable=True),
        sa.Column("postnatal_from", sa.Integer(), nullable=True),
        sa.Column("postnatal_to", sa.Integer(), nullable=True),
        sa.Column("after_loss", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_content_categories")),
    )
    op.create_table(
        "content_ward_digests",
        sa.Column("ward_code", sa.String(length=9), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ward_code", "category", name=op.f("pk_content_ward_digests")),
    )
    op.create_table(
        "content_library",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("loaded_at", models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_library")),
    )
    op.create_table(
        "planning_runs",
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("finished_at", models.UTCDateTime(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("local_date", name=op.f("pk_planning_runs")),
    )
    op.create_table(
        "life_events",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(*_STAGES, name="life_stage", native_enum=False, length=12),
            nullable=False,
        ),
        sa.Column("baby_born_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("keep_local_info", sa.Boolean(), nullable=False),
        sa.Column("updated_at", models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_life_events_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_life_events")),
    )


def _copy_current_local_info_consent() -> None:
    """Residents whose latest local-information choice is a yes keep getting it."""
    op.execute(
        sa.text(
            "UPDATE residents SET local_info_consent = :yes WHERE EXISTS ("
            " SELECT 1 FROM consent_events e"
            " WHERE e.person_ref = residents.person_ref AND e.purpose = 'local_info'"
            " AND e.granted = :yes AND e.id = ("
            "  SELECT max(l.id) FROM consent_events l"
            "  WHERE l.person_ref = e.person_ref AND l.purpose = 'local_info'))"
        ).bindparams(sa.bindparam("yes", True, type_=sa.Boolean()))
    )


def downgrade() -> None:
    op.drop_table("life_events")
    op.drop_table("planning_runs")
    op.drop_table("content_library")
    op.drop_table("content_ward_digests")
    op.drop_table("content_categories")
    op.drop_table("content_messages")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("local_info_consent")
