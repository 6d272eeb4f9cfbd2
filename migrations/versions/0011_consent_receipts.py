"""Consent receipts: a receipt id, who the controller was, the language, and the text itself.

Measured against the Kantara Consent Receipt and the ICO's consent guidance, each consent event
gains a receipt id she can see, the controller's name and contact, the privacy notice URL, the
jurisdiction, the consent type and the language she read; and each distinct text shown with a
consent question is kept once, under its SHA-256, in the new append-only `consent_texts`.

Existing rows: each gets a new receipt id. All were explicit (a yes/no button per purpose), under
UK law ("GB"), and in English (the only catalogue there has been). The controller and notice URL
they named were not recorded, so they stay empty; their texts were not kept either, so their
fingerprints have no row in `consent_texts`, which the exports and /mydata show as "not kept".
The append-only triggers are lifted for the backfill only, by the owner, inside this migration.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_COLUMNS = (
    ("receipt_id", 36),
    ("consent_type", 20),
    ("language", 8),
    ("controller_name", 100),
    ("controller_contact", 200),
    ("notice_url", 300),
    ("jurisdiction", 8),
)
_REQUIRED = ("receipt_id", "consent_type", "language", "jurisdiction")


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _sqlite_guards(table: str, key: str) -> None:
    """SQLite: refuse UPDATE, DELETE and INSERT OR REPLACE (as 0001, 0005 and 0010 do)."""
    refuse = f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {refuse}")
    op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {refuse}")
    op.execute(
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) {refuse}"
    )


def _drop_sqlite_guards(table: str) -> None:
    for name in ("no_update", "no_delete", "no_replace"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_{name}")


def _create_consent_texts() -> None:
    op.create_table(
        "consent_texts",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_shown_at", models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_consent_texts")),
    )
    if not _postgres():
        _sqlite_guards("consent_texts", "sha256")
        return
    op.execute(
        """
        CREATE FUNCTION consent_texts_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'consent_texts is append-only';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER consent_texts_append_only BEFORE UPDATE OR DELETE ON consent_texts "
        "FOR EACH ROW EXECUTE FUNCTION consent_texts_append_only()"
    )
    op.execute(
        "CREATE TRIGGER consent_texts_no_truncate BEFORE TRUNCATE ON consent_texts "
        "FOR EACH STATEMENT EXECUTE FUNCTION consent_texts_append_only()"
    )


def _backfill_consent_events() -> None:
    bind = op.get_bind()
    ids = list(bind.execute(sa.text("SELECT id FROM consent_events")).scalars())
    if ids:
        bind.execute(
            sa.text("UPDATE consent_events SET receipt_id = :receipt WHERE id = :id"),
            [{"receipt": str(uuid.uuid4()), "id": event_id} for event_id in ids],
        )
    op.execute(
        "UPDATE consent_events SET consent_type = 'explicit', language = 'en', jurisdiction = 'GB'"
    )


def upgrade() -> None:
    _create_consent_texts()
    postgres = _postgres()
    # The record refuses UPDATE; the owner lifts that for this backfill alone.
    if postgres:
        op.execute("ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only")
    else:
        _drop_sqlite_guards("consent_events")
    with op.batch_alter_table("consent_events") as batch:
        for name, length in _NEW_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    _backfill_consent_events()
    with op.batch_alter_table("consent_events") as batch:
        for name in _REQUIRED:
            length = dict(_NEW_COLUMNS)[name]
            batch.alter_column(name, existing_type=sa.String(length=length), nullable=False)
        batch.create_unique_constraint(op.f("uq_consent_events_receipt_id"), ["receipt_id"])
    if postgres:
        op.execute("ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only")
    else:
        # SQLite rebuilt the table, and its triggers went with the old one.
        _sqlite_guards("consent_events", "id")


def downgrade() -> None:
    postgres = _postgres()
    if not postgres:
        _drop_sqlite_guards("consent_events")
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_constraint(op.f("uq_consent_events_receipt_id"), type_="unique")
        for name, _length in reversed(_NEW_COLUMNS):
            batch.drop_column(name)
    if not postgres:
        _sqlite_guards("consent_events", "id")
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS consent_texts_no_truncate ON consent_texts")
        op.execute("DROP TRIGGER IF EXISTS consent_texts_append_only ON consent_texts")
        op.execute("DROP FUNCTION IF EXISTS consent_texts_append_only()")
    else:
        _drop_sqlite_guards("consent_texts")
    op.drop_table("consent_texts")
