"""Append-only means append-only: refuse REPLACE on SQLite and TRUNCATE on PostgreSQL.

The row triggers of 0001 and 0005 refuse UPDATE and DELETE. They miss two ways round:
SQLite's `INSERT OR REPLACE` deletes the old row without firing delete triggers, and
PostgreSQL's TRUNCATE fires no row triggers. (Disabling the triggers needs the owner; the bot
connects as a role that owns nothing: see bot/db_roles.py and docs/DEPLOY.md.)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("consent_events", "audit_events")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in _TABLES:
        if postgres:
            # TRUNCATE fires only statement-level triggers; the 0001/0005 function raises.
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
            )
        else:
            # REPLACE's implicit delete fires no delete trigger, but the insert is seen first.
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in _TABLES:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
