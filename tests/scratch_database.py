"""Databases of a test's own, apart from the suite's: empty, at any migration, dropped after.

On PostgreSQL a new database on the suite's cluster (named after the suite's, so runs on other
databases of a shared cluster never meet); on SQLite a new file.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.database import app_role, postgres_url


def _with_database(url: str, database: str, username: str | None = None) -> str:
    changed = make_url(url).set(database=database)
    if username is not None:
        changed = changed.set(username=username, password=None)
    return changed.render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    owner = postgres_url()
    assert owner is not None
    # CREATE and DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(owner, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def scratch_database(folder: Path, label: str = "scratch") -> AsyncIterator[str]:
    """An empty database (no migrations), as its owner; gone again afterwards."""
    owner = postgres_url()
    if owner is None:
        yield f"sqlite+aiosqlite:///{folder / f'{label}.sqlite3'}"
        return
    name = f"{make_url(owner).database}_{label}_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(owner, name)
    finally:
        # FORCE: a process a failed test left behind must not keep the database alive.
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def as_bot_role(scratch_url: str) -> str:
    """The scratch database as the suite's limited bot role (PostgreSQL); on SQLite the same."""
    owner = postgres_url()
    if owner is None:
        return scratch_url
    return _with_database(scratch_url, str(make_url(scratch_url).database), app_role(owner))
