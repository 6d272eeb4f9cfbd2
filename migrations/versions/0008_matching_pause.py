"""Pause matching for residents a moderator suspended or whose pregnancy ended.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("matching_paused_at", models.UTCDateTime(), nullable=True))
    # Anyone already suspended, or whose pregnancy has ended, starts paused.
    op.execute(
        """
        UPDATE residents SET matching_paused_at = updated_at
        WHERE EXISTS (
            SELECT 1 FROM moderation_decisions d
            WHERE d.resident_id = residents.id AND d.action = 'suspend'
        )
        OR EXISTS (
            SELECT 1 FROM life_events e
            WHERE e.resident_id = residents.id AND e.stage = 'ended'
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("matching_paused_at")
