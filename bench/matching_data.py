"""Synthetic residents for the matching benchmark, bulk-loaded into a migrated database."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import upgrade_database
from bot.services.places.geo import Gazetteer

# Residents are written as of this moment; due dates spread over the 40 weeks that follow.
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
PREGNANCY_DAYS = 280
MATCHING_SHARE = 0.8
ACTIVE_SHARE = 0.95

RESIDENT_COLUMNS = (
    "id",
    "person_ref",
    "telegram_user_id",
    "status",
    "display_name",
    "due_date",
    "ward_code",
    "district_code",
    "language_code",
    "created_at",
    "updated_at",
    "onboarded_at",
    "matching_consent",
    "last_active_at",
)
CONSENT_COLUMNS = (
    "person_ref",
    "purpose",
    "granted",
    "notice_version",
    "text_sha256",
    "method",
    "source",
    "created_at",
)
SUGGESTION_COLUMNS = ("viewer_id", "candidate_id", "status", "created_at", "expires_at")


def _residents(n: int, gazetteer: Gazetteer, seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    wards = [w for d in gazetteer.districts() for w in gazetteer.wards_in(d.code)]
    first_due = NOW.date()
    for i in range(1, n + 1):
        ward = wards[rng.randrange(len(wards))]
        joined = NOW - dt.timedelta(minutes=rng.randrange(60 * 24 * 200))
        active_at = NOW - dt.timedelta(minutes=rng.randrange(60 * 24 * 30))
        active = rng.random() < ACTIVE_SHARE
        yield (
            i,
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            1_000_000_000 + i,
            "active" if active else "onboarding",
            f"Mum {i}",
            first_due + dt.timedelta(days=rng.randrange(PREGNANCY_DAYS)),
            ward.code,
            ward.district_code,
            "en",
            joined,
            joined,
            joined if active else None,
            rng.random() < MATCHING_SHARE,
            active_at if rng.random() < 0.7 else None,
        )


def _suggestions(n: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """Open suggestions for about 1% of residents, so the fairness cap has something to count."""
    rng = random.Random(seed + 1)
    for _ in range(max(1, n // 100) * 3):
        viewer, candidate = rng.randrange(1, n + 1), rng.randrange(1, n + 1)
        if viewer != candidate:
            yield (viewer, candidate, "open", NOW, NOW + dt.timedelta(days=3))


def _sqlite_stamp(value: Any) -> Any:
    # SQLAlchemy's SQLite DateTime storage format, without the zone (the column type adds UTC).
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _consent_rows(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    consent_at = RESIDENT_COLUMNS.index("matching_consent")
    joined_at = RESIDENT_COLUMNS.index("created_at")
    for row in rows:
        yield (
            row[1],
            "matching",
            row[consent_at],
            "bench",
            "0" * 64,
            "bench",
            None,
            row[joined_at],
        )


def load_sqlite(path: Path, n: int, gazetteer: Gazetteer, seed: int = 1) -> str:
    """A fresh SQLite file migrated by Alembic, then filled with executemany."""
    path.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_database(url)
    rows = list(_residents(n, gazetteer, seed))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        marks = ", ".join("?" * len(RESIDENT_COLUMNS))
        db.executemany(
            f"INSERT INTO residents ({', '.join(RESIDENT_COLUMNS)}) VALUES ({marks})",
            ([_sqlite_stamp(v) for v in row] for row in rows),
        )
        marks = ", ".join("?" * len(CONSENT_COLUMNS))
        db.executemany(
            f"INSERT INTO consent_events ({', '.join(CONSENT_COLUMNS)}) VALUES ({marks})",
            ([_sqlite_stamp(v) for v in row] for row in _consent_rows(rows)),
        )
        marks = ", ".join("?" * len(SUGGESTION_COLUMNS))
        db.executemany(
            f"INSERT INTO match_suggestions ({', '.join(SUGGESTION_COLUMNS)}) VALUES ({marks})",
            ([_sqlite_stamp(v) for v in row] for row in _suggestions(n, seed)),
        )
        # What a long-running database has anyway; the planner needs it to pick an index.
        db.execute("ANALYZE")
        db.execute("PRAGMA journal_mode=DELETE")
    return url


async def _reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def ensure_postgres_database(url: str) -> None:
    """Create the benchmark's own database on first use, so a fresh machine needs nothing."""
    base, _, name = url.replace("postgresql+asyncpg://", "postgresql://").rpartition("/")
    connection = await asyncpg.connect(f"{base}/postgres")
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def load_postgres(url: str, n: int, gazetteer: Gazetteer, seed: int = 1) -> str:
    """A clean schema migrated by Alembic, then filled with COPY."""
    asyncio.run(ensure_postgres_database(url))
    asyncio.run(_reset_postgres(url))
    upgrade_database(url)
    rows = list(_residents(n, gazetteer, seed))

    async def copy() -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await connection.copy_records_to_table(
                "residents", records=rows, columns=list(RESIDENT_COLUMNS)
            )
            await connection.execute(
                "SELECT setval(pg_get_serial_sequence('residents', 'id'), $1)", n
            )
            await connection.copy_records_to_table(
                "consent_events", records=list(_consent_rows(rows)), columns=list(CONSENT_COLUMNS)
            )
            await connection.copy_records_to_table(
                "match_suggestions",
                records=list(_suggestions(n, seed)),
                columns=list(SUGGESTION_COLUMNS),
            )
            # Autovacuum would get there within a minute; the benchmark should not wait for it.
            await connection.execute("VACUUM ANALYZE")
        finally:
            await connection.close()

    asyncio.run(copy())
    return url
