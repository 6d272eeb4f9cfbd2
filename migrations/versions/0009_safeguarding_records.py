"""Safeguarding records that survive erasure, kept under keyed hashes of Telegram ids.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safeguarding_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "suspension",
                "block",
                "report",
                name="safeguarding_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("other_key", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("decided", sa.Boolean(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("happened_at", models.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safeguarding_records")),
    )
    op.create_index("ix_safeguarding_records_subject_key", "safeguarding_records", ["subject_key"])
    op.create_index("ix_safeguarding_records_other_key", "safeguarding_records", ["other_key"])
    op.create_index("ix_safeguarding_records_recorded_at", "safeguarding_records", ["recorded_at"])
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("safeguarding_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_residents_safeguarding_key"), ["safeguarding_key"])


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_constraint(op.f("uq_residents_safeguarding_key"), type_="unique")
        batch.drop_column("safeguarding_key")
    op.drop_table("safeguarding_records")
