"""Database engine, sessions and migrations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import migrations
from bot.update_timing import watch_statements


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Erased text is overwritten with zeros, not left in free space in the file. Many SQLite
    # builds default this off, so it is never left to the build.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def create_engine(database_url: str, *, connections: int | None = None) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys (as PostgreSQL always has) and secure_delete.

    `connections`: the pool's steady size (SQLAlchemy's default is 5), with 5 more allowed at
    peaks.
    """
    pool: dict[str, int] = {}
    url = make_url(database_url)
    # An SQLite file is pooled like PostgreSQL; an in-memory one is a single shared connection.
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if connections is not None and not in_memory:
        pool = {"pool_size": connections, "max_overflow": 5}
    engine = create_async_engine(database_url, pool_pre_ping=True, **pool)
    watch_statements(engine)
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


@dataclass(frozen=True)
class SchemaState:
    """Which migration the database is at, against the latest this code ships."""

    current: str | None
    latest: str
    # False when the database was migrated by a newer version of Bump Buddies than this one.
    known: bool

    @property
    def up_to_date(self) -> bool:
        """The database is at the latest migration: the bot may run on it."""
        return self.current == self.latest


def latest_revision() -> str:
    """The newest migration shipped with this code (the one head: migrations never branch)."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found beside the package")
    return head


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Read the database's migration (as any role that may read `alembic_version`)."""
    async with engine.connect() as connection:
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    script = ScriptDirectory.from_config(alembic_config(""))
    known = True
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            known = False
    return SchemaState(current, latest_revision(), known)


class DatabaseUnavailable(Exception):
    """The database could not be reached while an update was handled: it should come again."""


# Set by whoever can have the update delivered again (the webhook answers 503): handlers' failures
# for want of a database are noted here instead of being apologised for.
_WATCH: ContextVar[list[BaseException] | None] = ContextVar("database_failures", default=None)


# PostgreSQL's SQLSTATEs for "no database to talk to": class 08 (connection exceptions), and
# shutting down, crashed, or not yet accepting connections (57P01-57P03, as during a restart).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached (rather than a bug or bad data).

    The driver's own errors count too, wrapped by SQLAlchemy (its `orig`) or not: the send
    limits talk to PostgreSQL through asyncpg directly. Too many connections (53300) counts:
    another worker's pool may free some before Telegram pushes the update again.
    """
    original = error.orig if isinstance(error, DBAPIError) else None
    for current in (error, original):
        if current is None:
            continue
        if isinstance(current, OperationalError | InterfaceError | PoolTimeout | OSError):
            # OSError: a refused or reset connection, raised by the driver as it is.
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        # asyncpg's "connection is closed" (its plain InterfaceError, not its subclasses for
        # bad arguments or configuration), and a connection that no longer exists.
        if type(current) is asyncpg.InterfaceError or isinstance(
            current, asyncpg.exceptions.ConnectionDoesNotExistError
        ):
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
    return False


@contextmanager
def watching_for_database_failures() -> Iterator[list[BaseException]]:
    """Within this, note_database_failure collects failures instead of letting them be answered."""
    failures: list[BaseException] = []
    token = _WATCH.set(failures)
    try:
        yield failures
    finally:
        _WATCH.reset(token)


def note_database_failure(error: BaseException) -> bool:
    """True if `error` is the database being unreachable and someone will have the update again."""
    failures = _WATCH.get()
    if failures is None or not database_unavailable(error):
        return False
    failures.append(error)
    return True


def database_failures_noted() -> bool:
    """Whether a handler of the update being handled found the database unreachable."""
    return bool(_WATCH.get())
