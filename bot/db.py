"""Database engine, sessions and migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import migrations


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Erased text is overwritten with zeros, not left in free space in the file. Many SQLite
    # builds default this off, so it is never left to the build.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys (as PostgreSQL always has) and secure_delete."""
    engine = create_async_engine(database_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(database_url: str) -> Config:
    """Alembic config pointing at the migrations shipped beside the package."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def upgrade_database(
    database_url: str, revision: str = "head", *, app_role: str | None = None
) -> None:
    """Bring the schema to `revision` as its owner; the only way the schema is ever made.

    With `app_role` (PostgreSQL), the bot's role is then granted what it needs and no more.
    """
    command.upgrade(alembic_config(database_url), revision)
    if app_role:
        from bot.db_roles import grant

        asyncio.run(grant(database_url, app_role))
