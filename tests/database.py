"""Test databases, built only by `alembic upgrade head`, on SQLite or on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import upgrade_database


def postgres_url() -> str | None:
    """The PostgreSQL URL when the suite runs against PostgreSQL (DATABASE_URL set to one)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


async def _reset_postgres_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def build_template(folder: Path) -> str:
    """Migrate a fresh database once per test session and return what each test copies from."""
    url = postgres_url()
    if url:
        # Each run starts from a clean schema, whatever an earlier run left behind.
        asyncio.run(_reset_postgres_schema(url))
        upgrade_database(url)
        return url
    path = folder / "template.sqlite3"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return str(path)


async def fresh_database(template: str, folder: Path) -> str:
    """An empty, fully migrated database for one test."""
    url = postgres_url()
    if url:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            tables = await connection.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            names = ", ".join(f'"{name}"' for name in tables)
            if names:
                # TRUNCATE skips row triggers, so the append-only consent table can be emptied.
                await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        return url
    path = folder / "test.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"
