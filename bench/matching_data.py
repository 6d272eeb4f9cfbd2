"""Synthetic residents for the matching benchmark, bulk-loaded into a migrated database.

The residents are the shared generator's (`bot/services/synthetic.py`, written by
`bench/population.py`); this adds the matching pool's shape and open suggestions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from bench.population import (
    asyncpg_url,
    ensure_postgres_database,
    load,
    reset_postgres,
    sqlite_insert,
)
from bot.db import upgrade_database
from bot.services.places.geo import Gazetteer
from bot.services.synthetic import CONSENT_SHARES, Mix, Window
from models import ConsentPurpose

# Residents are written as of this moment; due dates spread over the 40 weeks that follow.
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
SUGGESTION_COLUMNS = ("viewer_id", "candidate_id", "status", "created_at", "expires_at")


def matching_mix(n: int, seed: int) -> Mix:
    """Every ward evenly, 40 weeks of due dates, 80% in the pool, 70% active lately."""
    return Mix(
        count=n,
        now=NOW,
        seed=seed,
        wards="every",
        joined=(Window(0, 200),),
        due=Window(0, 280),
        consents={**CONSENT_SHARES, ConsentPurpose.MATCHING: 0.8},
        active_share=0.95,
        recently_active_share=0.7,
        first_telegram_id=1_000_000_001,
    )


def _suggestions(n: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """Open suggestions for about 1% of residents, so the fairness cap has something to count."""
    rng = random.Random(seed + 1)
    for _ in range(max(1, n // 100) * 3):
        viewer, candidate = rng.randrange(1, n + 1), rng.randrange(1, n + 1)
        if viewer != candidate:
            yield (viewer, candidate, "open", NOW, NOW + dt.timedelta(days=3))


def load_sqlite(path: Path, n: int, gazetteer: Gazetteer, seed: int = 1) -> str:
    """A fresh SQLite file migrated by Alembic, then filled with executemany."""
    path.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_database(url)
    asyncio.run(load(url, gazetteer, matching_mix(n, seed)))
    with sqlite3.connect(path) as db:
        sqlite_insert(db, "match_suggestions", SUGGESTION_COLUMNS, _suggestions(n, seed))
        db.execute("ANALYZE")
    return url


def load_postgres(url: str, n: int, gazetteer: Gazetteer, seed: int = 1) -> str:
    """A clean schema migrated by Alembic, then filled with COPY."""
    asyncio.run(ensure_postgres_database(url))
    asyncio.run(reset_postgres(url))
    upgrade_database(url)

    async def fill() -> None:
        await load(url, gazetteer, matching_mix(n, seed))
        connection = await asyncpg.connect(asyncpg_url(url))
        try:
            await connection.copy_records_to_table(
                "match_suggestions",
                records=list(_suggestions(n, seed)),
                columns=list(SUGGESTION_COLUMNS),
            )
            await connection.execute("VACUUM ANALYZE match_suggestions")
        finally:
            await connection.close()

    asyncio.run(fill())
    return url
