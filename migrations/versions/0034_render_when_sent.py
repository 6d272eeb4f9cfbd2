"""Messages rendered when sent, in her language then; broadcasts with translations (issue 13).

deliveries.template and deliveries.params say how to word a queued message again when it is sent
(bot/delivery/render.py); broadcasts.translations holds staff's translation per language.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("template", sa.String(80), nullable=True))
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("params")
        batch.drop_column("template")
