"""Fills a migrated database with synthetic residents, for every benchmark and load run.

The residents come from the one generator, `bot/services/synthetic.py` (a `Mix` of knobs: count,
seed, wards, due dates, consents, who is reachable…); this writes them in bulk: executemany on
SQLite, COPY on PostgreSQL, a chunk at a time so a million fit in memory. Each resident gets her
row, her consent events (health data, then each optional choice) and her birth news if any.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.services.places.geo import Gazetteer
from bot.services.synthetic import (
    CONSENT_COLUMNS,
    LIFE_EVENT_COLUMNS,
    RESIDENT_COLUMNS,
    Mix,
    SyntheticResident,
    consent_rows,
    life_event_row,
    resident_row,
    synthetic_residents,
)

CHUNK = 50_000
Rows = dict[str, list[tuple[Any, ...]]]
TABLES = {
    "residents": RESIDENT_COLUMNS,
    "consent_events": CONSENT_COLUMNS,
    "life_events": LIFE_EVENT_COLUMNS,
}


def _chunks(residents: Iterable[SyntheticResident], now: dt.datetime, size: int) -> Iterator[Rows]:
    rows: Rows = {table: [] for table in TABLES}
    for resident in residents:
        rows["residents"].append(resident_row(resident, now))
        rows["consent_events"].extend(consent_rows(resident))
        if (life := life_event_row(resident, now)) is not None:
            rows["life_events"].append(life)
        if len(rows["residents"]) >= size:
            yield rows
            rows = {table: [] for table in TABLES}
    yield rows


def sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it on SQLite (UTC, without the zone, which the type adds)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def sqlite_insert(db: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: Any) -> None:
    """executemany of `rows` into `table`, values converted as SQLAlchemy would store them."""
    marks = ", ".join("?" * len(columns))
    # A resident's events share her joining time, and many residents a date: convert each once.
    converted: dict[Any, Any] = {}

    def value(v: Any) -> Any:
        if not isinstance(v, dt.date):
            return v
        if (stored := converted.get(v)) is None:
            stored = converted[v] = sqlite_value(v)
        return stored

    db.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
        ([value(v) for v in row] for row in rows),
    )


def _fill_sqlite(path: Path, chunks: Iterator[Rows]) -> int:
    count = 0
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA synchronous=OFF")
        for rows in chunks:
            for table, columns in TABLES.items():
                sqlite_insert(db, table, columns, rows[table])
            count += len(rows["residents"])
        # What a long-running database has anyway; the planner needs it to pick an index.
        db.execute("ANALYZE")
    return count


def asyncpg_url(url: str) -> str:
    """The SQLAlchemy URL as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _fill_postgres(url: str, chunks: Iterator[Rows]) -> int:
    count = 0
    connection = await asyncpg.connect(asyncpg_url(url))
    try:
        for rows in chunks:
            for table, columns in TABLES.items():
                await connection.copy_records_to_table(
                    table, records=rows[table], columns=list(columns)
                )
            count += len(rows["residents"])
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('residents', 'id'), max(id)) FROM residents"
        )
        # A living database has been vacuumed; right after a bulk load, autovacuum would
        # otherwise be measured alongside the benchmark.
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    return count


async def load(url: str, gazetteer: Gazetteer, mix: Mix, *, chunk: int = CHUNK) -> int:
    """Write `mix`'s residents into the migrated, empty database at `url`; how many."""
    chunks = _chunks(synthetic_residents(gazetteer, mix), mix.now, chunk)
    if url.startswith("sqlite"):
        database = make_url(url).database
        assert database, "an in-memory database cannot be filled from outside"
        # In a thread: a benchmark may be measuring something else on this event loop.
        return await asyncio.to_thread(_fill_sqlite, Path(database), chunks)
    return await _fill_postgres(url, chunks)


async def ensure_postgres_database(url: str) -> None:
    """Create a benchmark's own database on first use, so a fresh machine needs nothing."""
    base, _, name = asyncpg_url(url).rpartition("/")
    connection = await asyncpg.connect(f"{base}/postgres")
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def reset_postgres(url: str) -> None:
    """An empty public schema (for Alembic to migrate)."""
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
