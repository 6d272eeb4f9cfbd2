"""Conversation state and the per-chat update inbox in the database, not a worker's memory.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_states",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "user_id", "name", name="pk_conversation_states"),
    )
    op.create_table(
        "conversation_notes",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_conversation_notes"),
    )
    op.create_table(
        "update_inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name="pk_update_inbox"),
    )
    op.create_index("ix_update_inbox_chat_pending", "update_inbox", ["chat_id", "update_id"])


def downgrade() -> None:
    op.drop_index("ix_update_inbox_chat_pending", table_name="update_inbox")
    op.drop_table("update_inbox")
    op.drop_table("conversation_notes")
    op.drop_table("conversation_states")
