"""The delivery queue shared by scheduled information and broadcasts; unreachable residents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("queued", "sending", "sent", "failed", "cancelled", "skipped")


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("unreachable_since", models.UTCDateTime(), nullable=True))

    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.String(length=80), nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=True),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*_STATUSES, name="delivery_status", native_enum=False, length=12),
            nullable=False,
        ),
        sa.Column("not_before", models.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", models.UTCDateTime(), nullable=True),
        sa.Column("sent_at", models.UTCDateTime(), nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_deliveries_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("resident_id", "content_key", name="uq_deliveries_resident_content"),
    )
    op.create_index("ix_deliveries_claim", "deliveries", ["status", "not_before", "id"])
    op.create_index("ix_deliveries_batch_status", "deliveries", ["batch", "status"])
    op.create_index("ix_deliveries_resident_id", "deliveries", ["resident_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_resident_id", table_name="deliveries")
    op.drop_index("ix_deliveries_batch_status", table_name="deliveries")
    op.drop_index("ix_deliveries_claim", table_name="deliveries")
    op.drop_table("deliveries")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("unreachable_since")
