"""The running bot's heartbeat, so the console can say whether the bot is up.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_heartbeats",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("content_digest", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("bot_heartbeats")
