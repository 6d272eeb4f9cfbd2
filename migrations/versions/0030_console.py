"""The web console: sessions, one-time sign-in links, and audit events marked as from it.

Revision ID: 0030
Revises: 0020
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0030"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("pair_code", sa.String(16), nullable=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("approved_staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_console_sessions_pair_code", "console_sessions", ["pair_code"])
    op.create_index("ix_console_sessions_staff_id", "console_sessions", ["staff_id"])
    op.create_table(
        "console_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    # A plain ADD COLUMN (not a batch copy), so SQLite keeps the append-only triggers.
    op.add_column("audit_events", sa.Column("via", sa.String(10), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN too (SQLite 3.35+), for the same reason.
    op.execute("ALTER TABLE audit_events DROP COLUMN via")
    op.drop_table("console_links")
    op.drop_index("ix_console_sessions_staff_id", "console_sessions")
    op.drop_index("ix_console_sessions_pair_code", "console_sessions")
    op.drop_table("console_sessions")
