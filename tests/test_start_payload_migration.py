"""Migration 0017 removes stored /start payloads that are not join links, and revokes the
staff invitations among them, on a database that already holds some."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import upgrade_database
from tests.database import postgres_url

TOKEN = "T" * 43
INVITE = "staff_" + TOKEN
BEFORE = "0008"

_RESIDENT = (
    "INSERT INTO residents (id, person_ref, telegram_user_id, status, language_code,"
    " signup_source, created_at, updated_at) VALUES (:id, :ref, :tg, 'active', 'en', :source,"
    " '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
)
_CHOICE = (
    "INSERT INTO consent_events (person_ref, purpose, granted, notice_version, text_sha256,"
    " method, source, created_at) VALUES (:ref, 'health_data', true, 'v', '0', 'test', :source,"
    " '2026-11-01 10:00:00')"
)


@pytest.fixture
async def scratch_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own at revision 0008: a SQLite file, or a PostgreSQL database."""
    server = postgres_url()
    if server is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'before.sqlite3'}"
        return
    name = f"scratch_0017_{abs(hash(tmp_path)) % 10**8}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _run(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_invite_tokens_and_unknown_payloads_are_removed_and_the_invites_revoked(
    scratch_url: str,
) -> None:
    await asyncio.to_thread(upgrade_database, scratch_url, BEFORE)
    await _run(
        scratch_url,
        "INSERT INTO staff (id, telegram_user_id, role, added_at) "
        "VALUES (1, 99, 'admin', '2026-11-01 10:00:00')",
    )
    await _run(
        scratch_url,
        "INSERT INTO staff_invites (token_sha256, role, created_by_id, created_at, expires_at) "
        "VALUES (:sha, 'admin', 1, '2026-11-01 10:00:00', '2099-01-01 00:00:00')",
        sha=hashlib.sha256(TOKEN.encode()).hexdigest(),
    )
    await _run(
        scratch_url,
        "INSERT INTO join_links (code, clinic, created_at) "
        "VALUES ('broomfield', 'Broomfield', '2026-11-01 10:00:00')",
    )
    for rid, source in enumerate((INVITE, "made_up", "broomfield", None), 1):
        await _run(scratch_url, _RESIDENT, id=rid, ref=f"ref{rid}", tg=1000 + rid, source=source)
        await _run(scratch_url, _CHOICE, ref=f"ref{rid}", source=source)

    await asyncio.to_thread(upgrade_database, scratch_url, "0017")

    residents = await _run(scratch_url, "SELECT signup_source FROM residents ORDER BY id")
    consents = await _run(scratch_url, "SELECT source FROM consent_events ORDER BY id")
    assert [r[0] for r in residents] == [None, None, "broomfield", None]
    assert [c[0] for c in consents] == [None, None, "broomfield", None]
    [(expires,)] = await _run(scratch_url, "SELECT expires_at FROM staff_invites")
    assert str(expires)[:4] != "2099"
    assert str(expires)[:10] <= dt.datetime.now(dt.UTC).date().isoformat()
    # The consent record is append-only again afterwards.
    with pytest.raises(DBAPIError, match="append-only"):
        await _run(scratch_url, "UPDATE consent_events SET source = 'x'")
