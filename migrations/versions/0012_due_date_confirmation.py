"""A due date waiting for her to confirm it, and "I don't know yet" as an answer.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("pending_due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("due_date_unknown_since", models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("due_date_unknown_since")
        batch.drop_column("pending_due_date")
