"""Test databases, built only by `alembic upgrade head`, on SQLite or on PostgreSQL.

On PostgreSQL the suite plays both roles of a deployment (docs/DEPLOY.md): DATABASE_URL is the
owner, who migrates and empties tables between tests, and the bot under test connects as a
limited role derived from the database's name (`<database>_bot`), which the suite creates. So the
suite proves the bot works with only its grants, and concurrent runs on other databases of the
same cluster each get their own role.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bot.db import upgrade_database


def postgres_url() -> str | None:
    """The owner's PostgreSQL URL when the suite runs against PostgreSQL (DATABASE_URL set)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def app_role(owner_url: str) -> str:
    """The bot's role for this database: roles are cluster-wide, databases are not shared."""
    return f"{make_url(owner_url).database}_bot"


def app_url(owner_url: str) -> str:
    """The same database, reached as the bot's limited role."""
    url = make_url(owner_url).set(username=app_role(owner_url), password=None)
    return url.render_as_string(hide_password=False)


def owner_url(template: str, database_url: str) -> str:
    """Who may do what the bot may not: the owner on PostgreSQL; on SQLite the same file."""
    return template if postgres_url() else database_url


async def _reset_postgres_schema(url: str) -> None:
    engine = create_async_engine(url)
    role = app_role(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
        exists = await connection.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
        )
        if not exists:
            quoted = connection.dialect.identifier_preparer.quote(role)
            await connection.execute(text(f"CREATE ROLE {quoted} LOGIN"))
    await engine.dispose()


def build_template(folder: Path) -> str:
    """Migrate a fresh database once per test session and return what each test copies from."""
    url = postgres_url()
    if url:
        # Each run starts from a clean schema, whatever an earlier run left behind.
        asyncio.run(_reset_postgres_schema(url))
        upgrade_database(url, app_role=app_role(url))
        return url
    path = folder / "template.sqlite3"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return str(path)


async def _empty_postgres_tables(connection: AsyncConnection) -> None:
    tables = list(
        await connection.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        )
    )
    if not tables:
        return
    # The append-only tables refuse TRUNCATE with a trigger; the owner may switch it off, and
    # does so only inside this transaction.
    guarded = list(
        await connection.scalars(
            text(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND NOT t.tgisinternal AND (t.tgtype & 32) <> 0"
            )
        )
    )
    for table in guarded:
        await connection.execute(text(f'ALTER TABLE "{table}" DISABLE TRIGGER USER'))
    names = ", ".join(f'"{name}"' for name in tables)
    await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    for table in guarded:
        await connection.execute(text(f'ALTER TABLE "{table}" ENABLE TRIGGER USER'))


async def fresh_database(template: str, folder: Path) -> str:
    """An empty, fully migrated database for one test, as the bot under test reaches it."""
    url = postgres_url()
    if url:
        engine = create_async_engine(template)
        async with engine.begin() as connection:
            await _empty_postgres_tables(connection)
        await engine.dispose()
        return app_url(template)
    path = folder / "test.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"
