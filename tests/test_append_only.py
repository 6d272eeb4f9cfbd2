"""The consent record and the staff audit trail cannot be rewritten by the bot's own connection.

The threat is what the bot's database connection can do (a bug, or someone who got hold of its
credentials); anyone holding the SQLite file itself is out of scope.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, create_sessionmaker
from bot.services.staff.audit import Actor, record
from models import AuditEvent, ConsentEvent, ConsentText
from tests.database import postgres_url
from tests.factories import make_resident

NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
APPEND_ONLY = ("consent_events", "audit_events", "consent_texts")
KEY = {"consent_events": "id", "audit_events": "id", "consent_texts": "sha256"}
# Either the database refuses outright (the bot's role lacks the privilege) or a trigger does.
REFUSED = r"append-only|permission denied|must be owner|must be superuser"

on_sqlite = pytest.mark.skipif(postgres_url() is not None, reason="SQLite's own bypass")
on_postgres = pytest.mark.skipif(postgres_url() is None, reason="PostgreSQL's own bypasses")


async def _one_row_in_each(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session, session.begin():
        await make_resident(session, NOW)
        record(session, NOW, Actor(None, "cli"), "test", None, "ok")


async def _counts(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        return [
            int(await connection.scalar(select(func.count()).select_from(model)) or 0)
            for model in (ConsentEvent, AuditEvent, ConsentText)
        ]


async def _refused(engine: AsyncEngine, *statements: str) -> None:
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match=REFUSED):
            async with connection.begin():
                for statement in statements:
                    await connection.execute(text(statement))


_REPLACE = {
    "consent_events": (
        "INSERT OR REPLACE INTO consent_events (id, person_ref, purpose, granted, notice_version,"
        " text_sha256, method, source, created_at) SELECT id, person_ref, purpose, 0,"
        " notice_version, text_sha256, 'rewritten', source, created_at FROM consent_events"
        " ORDER BY id LIMIT 1"
    ),
    "audit_events": (
        "REPLACE INTO audit_events (id, at, actor_telegram_id, actor_role, action, target,"
        " outcome, detail) SELECT id, at, NULL, 'cli', 'nothing to see', NULL, 'ok', NULL"
        " FROM audit_events ORDER BY id LIMIT 1"
    ),
    "consent_texts": (
        "INSERT OR REPLACE INTO consent_texts (sha256, text, first_shown_at)"
        " SELECT sha256, 'rewritten', first_shown_at FROM consent_texts LIMIT 1"
    ),
}


@on_sqlite
@pytest.mark.parametrize("table", APPEND_ONLY)
async def test_insert_or_replace_cannot_rewrite_a_row(engine: AsyncEngine, table: str) -> None:
    await _one_row_in_each(engine)
    before = await _counts(engine)

    await _refused(engine, _REPLACE[table])

    assert await _counts(engine) == before


_UPSERT = {
    "consent_events": (
        "INSERT INTO consent_events (id, person_ref, purpose, granted, notice_version,"
        " text_sha256, method, source, created_at) SELECT id, person_ref, purpose, granted,"
        " notice_version, text_sha256, method, source, created_at FROM consent_events"
        " WHERE true ORDER BY id LIMIT 1 ON CONFLICT (id) DO UPDATE SET method = 'rewritten'"
    ),
    "audit_events": (
        "INSERT INTO audit_events (id, at, actor_telegram_id, actor_role, action, target,"
        " outcome, detail) SELECT id, at, actor_telegram_id, actor_role, action, target,"
        " outcome, detail FROM audit_events WHERE true ORDER BY id LIMIT 1"
        " ON CONFLICT (id) DO UPDATE SET action = 'rewritten'"
    ),
    "consent_texts": (
        "INSERT INTO consent_texts (sha256, text, first_shown_at)"
        " SELECT sha256, text, first_shown_at FROM consent_texts WHERE true LIMIT 1"
        " ON CONFLICT (sha256) DO UPDATE SET text = 'rewritten'"
    ),
}


@pytest.mark.parametrize("table", APPEND_ONLY)
async def test_an_upsert_cannot_rewrite_a_row(engine: AsyncEngine, table: str) -> None:
    await _one_row_in_each(engine)

    await _refused(engine, _UPSERT[table])


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET {key} = {key}", "DELETE FROM {table}"])
async def test_rows_cannot_be_changed_or_removed(
    engine: AsyncEngine, table: str, statement: str
) -> None:
    await _one_row_in_each(engine)
    before = await _counts(engine)

    await _refused(engine, statement.format(table=table, key=KEY[table]))

    assert await _counts(engine) == before


@on_postgres
@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "bypass",
    [
        ["TRUNCATE {table}"],
        ["TRUNCATE {table} CASCADE"],
        ["ALTER TABLE {table} DISABLE TRIGGER ALL", "DELETE FROM {table}"],
        ["ALTER TABLE {table} DISABLE TRIGGER USER", "DELETE FROM {table}"],
        ["DROP TRIGGER {table}_append_only ON {table}", "DELETE FROM {table}"],
        ["SET session_replication_role = replica", "DELETE FROM {table}"],
        ["ALTER TABLE {table} OWNER TO CURRENT_USER", "DELETE FROM {table}"],
        ["DROP TABLE {table} CASCADE"],
        [
            "CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS "
            "$$ BEGIN RETURN OLD; END $$ LANGUAGE plpgsql",
            "DELETE FROM {table}",
        ],
    ],
    ids=[
        "truncate",
        "truncate-cascade",
        "disable-all-triggers",
        "disable-user-triggers",
        "drop-trigger",
        "replication-role",
        "take-ownership",
        "drop-table",
        "replace-trigger-function",
    ],
)
async def test_the_bots_role_cannot_empty_or_unguard_the_table(
    engine: AsyncEngine, table: str, bypass: list[str]
) -> None:
    await _one_row_in_each(engine)
    before = await _counts(engine)

    await _refused(engine, *(statement.format(table=table) for statement in bypass))

    assert await _counts(engine) == before


@on_postgres
@pytest.mark.parametrize("table", APPEND_ONLY)
async def test_even_the_owner_cannot_truncate(
    engine: AsyncEngine, owner_database_url: str, table: str
) -> None:
    await _one_row_in_each(engine)
    owner = create_engine(owner_database_url)
    try:
        await _refused(owner, f"TRUNCATE {table}")
    finally:
        await owner.dispose()


@on_postgres
async def test_the_bot_connects_as_a_role_that_owns_nothing(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        owned = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user"
            )
        )
        superuser = await connection.scalar(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        )
    assert (owned, superuser) == (0, False)
