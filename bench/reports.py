"""Feedback and reports benchmark: the hourly question job and the report.

- job: one run of the feedback question job's database work (plan "two weeks in" questions,
  retire, claim what is due) with 5,000 and then 50,000 residents; the ratio shows whether it
  stays set-based (a handful of statements whatever the size) rather than a query per resident;
- report: counting every section over 50,000 residents and 20,000 ratings, protecting the tables
  (rounding each month-sized cell, linear in the cells) and drawing the HTML with its charts.

`python -m bench.reports` (about a minute); `--quick` uses a tenth of the residents. Results go to
bench/results/reports.json (or reports-quick.json). SQLite in a temporary folder, a fixed clock.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.population import load
from bot.db import create_engine, create_sessionmaker, upgrade_database
from bot.delivery.quiet_hours import QuietHours
from bot.services import feedback
from bot.services.places.geo import default_gazetteer
from bot.services.reports.html_report import render_html
from bot.services.reports.report import build_report
from bot.services.reports.sections import Period
from bot.services.synthetic import Mix, Window
from models import (
    OPTIONAL_PURPOSES,
    FeedbackMoment,
    FeedbackPrompt,
    FeedbackResponse,
    Resident,
    StageBand,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
BATCH = 5_000


def reports_mix(residents: int, seed: int) -> Mix:
    """Residents who joined over the past two years, a third in the last five weeks."""
    return Mix(
        count=residents,
        now=NOW,
        seed=seed,
        wards="every",
        joined=(Window(0, 35, weight=1), Window(35, 730, weight=2)),
        weeks_along_at_joining=(20, 20),
        consents=dict.fromkeys(OPTIONAL_PURPOSES, 0.7),
        first_telegram_id=5_000_000_000,
        # A few clinics and GPs, and forty posters sharing a fifth of sign-ups.
        sources={None: 2, "clinic_1": 1, "gp_2": 1} | {f"poster_{n}": 1 / 40 for n in range(40)},
    )


async def _seed(engine: AsyncEngine, residents: int, ratings: int, seed: int) -> None:
    """The shared generator's residents (bench/population.py), then ratings from them."""
    url = engine.url.render_as_string(hide_password=False)
    await load(url, default_gazetteer(), reports_mix(residents, seed))
    rng = random.Random(seed)
    districts = [d.code for d in default_gazetteer().districts()]
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        ids = list(await session.scalars(select(Resident.id)))
        responses = [
            {
                "resident_id": rng.choice(ids),
                "moment": FeedbackMoment.ANYTIME,
                "rating": rng.choice([1, 2, 3, 4, 4, 5, 5, 5]),
                "loneliness": None,
                "district_code": rng.choice(districts),
                "stage_band": rng.choice(list(StageBand)),
                "created_at": NOW - dt.timedelta(days=rng.uniform(0, 360)),
            }
            for _ in range(ratings)
        ]
        for start in range(0, len(responses), BATCH):
            await session.execute(insert(FeedbackResponse), responses[start : start + BATCH])


async def _job_once(engine: AsyncEngine) -> dict[str, float]:
    sessions = create_sessionmaker(engine)
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        planned = await feedback.plan_two_week_prompts(session, NOW)
        await feedback.retire_prompts(session, NOW)
        claimed = await feedback.claim_due_prompts(session, NOW, QuietHours(LONDON), limit=10**9)
    seconds = time.perf_counter() - started
    async with sessions() as session:
        prompts = await session.scalar(select(func.count()).select_from(FeedbackPrompt))
    return {"seconds": seconds, "planned": planned, "claimed": len(claimed), "rows": prompts or 0}


async def _database(folder: Path, name: str) -> AsyncEngine:
    url = f"sqlite+aiosqlite:///{folder / name}"
    await asyncio.to_thread(upgrade_database, url)
    return create_engine(url)


async def bench_job(folder: Path, sizes: list[int]) -> dict[str, Any]:
    runs = {}
    for size in sizes:
        engine = await _database(folder, f"job-{size}.sqlite3")
        await _seed(engine, size, 0, seed=6)
        first = await _job_once(engine)
        # The next hour: nothing new to plan or send, which is what most runs look like.
        second = await _job_once(engine)
        await engine.dispose()
        runs[str(size)] = {"first_run": first, "idle_run": second}
    small, large = (runs[str(s)]["first_run"]["seconds"] for s in sizes)
    return {"runs": runs, "time_ratio": large / small, "size_ratio": sizes[1] / sizes[0]}


async def bench_report(folder: Path, residents: int, ratings: int) -> dict[str, Any]:
    engine = await _database(folder, "report.sqlite3")
    await _seed(engine, residents, ratings, seed=7)
    period = Period.last_months(NOW.date(), 12, LONDON)
    started = time.perf_counter()
    async with create_sessionmaker(engine)() as session, session.begin():
        report = await build_report(session, period, default_gazetteer(), generated_at=NOW)
    built = time.perf_counter() - started
    started = time.perf_counter()
    page = render_html(report, "Essex County Council")
    rendered = time.perf_counter() - started
    await engine.dispose()
    return {
        "residents": residents,
        "ratings": ratings,
        "tables": len(report.tables),
        "count_and_protect_seconds": built,
        "html_with_charts_seconds": rendered,
        "html_bytes": len(page),
    }


def _machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpus": len(os.sched_getaffinity(0)),
        "commit": commit,
    }


async def main(quick: bool) -> dict[str, Any]:
    scale = 10 if quick else 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        job = await bench_job(path, [5_000 // scale, 50_000 // scale])
        report = await bench_report(path, 50_000 // scale, 20_000 // scale)
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "job": job,
        "report": report,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the residents")
    quick = parser.parse_args().quick
    results = asyncio.run(main(quick))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("reports-quick.json" if quick else "reports.json")
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
