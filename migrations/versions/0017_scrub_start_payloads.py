"""Replace stored /start payloads that are not join links; revoke invitations found among them.

Before this revision, `/start  staff_…` (two spaces) or `/start@BotName staff_…` started resident
sign-up and stored the raw invitation token as the resident's `signup_source` and, for ever, as
the consent record's `source`, where it stayed usable. Only codes of known join links are kept
now. Run as the owner: the consent record's append-only triggers are set aside for this one
statement and restored in the same transaction.

Revision ID: 0017
Revises: 0012
Create Date: 2026-12-04
"""

import datetime as dt
import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0017"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INVITE_PREFIX = "staff_"
_UNKNOWN = "IS NOT NULL AND {column} NOT IN (SELECT code FROM join_links)"


def _revoke_invitations(connection: sa.Connection) -> None:
    stored = connection.execute(
        sa.text(
            "SELECT signup_source FROM residents WHERE signup_source LIKE 'staff\\_%' ESCAPE '\\' "
            "UNION SELECT source FROM consent_events WHERE source LIKE 'staff\\_%' ESCAPE '\\'"
        )
    ).scalars()
    hashes = [
        hashlib.sha256(value.removeprefix(_INVITE_PREFIX).encode()).hexdigest() for value in stored
    ]
    if hashes:
        connection.execute(
            sa.text(
                "UPDATE staff_invites SET expires_at = :now "
                "WHERE token_sha256 IN :hashes AND used_at IS NULL AND expires_at > :now"
            ).bindparams(
                sa.bindparam("hashes", expanding=True),
                sa.bindparam("now", type_=models.UTCDateTime()),
            ),
            {"hashes": hashes, "now": dt.datetime.now(dt.UTC)},
        )


def _scrub_consent_sources(connection: sa.Connection) -> None:
    scrub = sa.text(
        f"UPDATE consent_events SET source = NULL WHERE source {_UNKNOWN.format(column='source')}"
    )
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("ALTER TABLE consent_events DISABLE TRIGGER USER"))
        connection.execute(scrub)
        connection.execute(sa.text("ALTER TABLE consent_events ENABLE TRIGGER USER"))
        return
    # SQLite has no way to switch a trigger off: drop them and make them again, as they were.
    triggers = connection.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'consent_events'"
        )
    ).all()
    for name, _sql in triggers:
        connection.execute(sa.text(f'DROP TRIGGER "{name}"'))
    connection.execute(scrub)
    for _name, sql in triggers:
        connection.execute(sa.text(sql))


def upgrade() -> None:
    connection = op.get_bind()
    _revoke_invitations(connection)
    connection.execute(
        sa.text(
            "UPDATE residents SET signup_source = NULL "
            f"WHERE signup_source {_UNKNOWN.format(column='signup_source')}"
        )
    )
    _scrub_consent_sources(connection)


def downgrade() -> None:
    """Nothing to restore: the removed payloads were never meant to be kept."""
