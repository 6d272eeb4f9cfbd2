"""Telegram's flood limits shared by every worker: the next free moment overall and per chat.

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pacing = op.create_table(
        "send_pacing",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_send_pacing")),
    )
    # The row for all chats together always exists, so a reservation only ever updates it.
    op.bulk_insert(pacing, [{"chat_id": 0, "next_at": 0.0}])


def downgrade() -> None:
    op.drop_table("send_pacing")
