"""Scheduling benchmark: one daily planning run (plan + queue) over synthetic residents.

For each backend (SQLite, PostgreSQL) and size (10k, 100k, 1M; `--quick`: 10k and 100k), a fresh
database is migrated, filled in bulk (executemany on SQLite, COPY on PostgreSQL) with residents,
their consent history (from the shared generator, bot/services/synthetic.py: health data, each
optional choice, local information's after an earlier opposite one, the latest a yes for 80%),
birth news for 10%, and the Essex sample content. Then one planning run is timed in a child
process, which reports its own peak RSS (VmHWM): the first run of a day when nobody has had
this week's message yet, i.e. the worst case (about 80% of residents get a row), and the next
day's run (only those starting a new week). Results: bench/results/scheduling.json (or
scheduling-quick.json) and a table to paste into docs/PERFORMANCE.md.

PostgreSQL: DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
bumpbuddies_bench_scheduling, created if missing); its
public schema is dropped and recreated, and VACUUM ANALYZE and CHECKPOINT follow the bulk load.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.population import ensure_postgres_database, load, reset_postgres
from bot.db import create_engine, create_sessionmaker, upgrade_database
from bot.services.local_info.content import store_content
from bot.services.local_info.content_files import read_content
from bot.services.places.geo import default_gazetteer
from bot.services.synthetic import CONSENT_SHARES, Mix, Window
from models import ConsentPurpose

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CONTENT = ROOT / "content"
# The planning run happens at 09:30 UK time on this (winter) day.
NOW = dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.UTC)
TODAY = NOW.date()
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/bumpbuddies_bench_scheduling"
LOCAL_INFO_SHARE = 0.8
BABY_SHARE = 0.1
CHUNK = 50_000
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}


def scheduling_mix(count: int) -> Mix:
    """Every ward evenly; 10% have had their baby; 80% say yes to local information."""
    return Mix(
        count=count,
        now=NOW,
        seed=count,
        wards="every",
        joined=(Window(0, 0),),
        due=Window(-14, 281),
        born_share=BABY_SHARE,
        born=Window(-300, 1),
        consents={
            **CONSENT_SHARES,
            ConsentPurpose.MATCHING: 1.0,
            ConsentPurpose.LOCAL_INFO: LOCAL_INFO_SHARE,
        },
        # Her local-information choice follows an earlier opposite one, so "latest" matters.
        second_thoughts={ConsentPurpose.LOCAL_INFO: 1.0},
        first_telegram_id=10_000_001,
    )


async def _load_content(url: str) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await store_content(
                session, read_content(CONTENT, default_gazetteer()), default_gazetteer(), NOW
            )
    finally:
        await engine.dispose()


def prepare(backend: str, count: int, folder: Path, postgres_url: str) -> tuple[str, float]:
    """A migrated database with `count` residents and the sample content; seconds it took."""
    started = time.perf_counter()
    if backend == "sqlite":
        path = folder / f"bench-{count}.sqlite3"
        path.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
        upgrade_database(url)
        asyncio.run(load(url, default_gazetteer(), scheduling_mix(count), chunk=CHUNK))
    else:
        url = postgres_url
        asyncio.run(reset_postgres(url))
        upgrade_database(url)
        asyncio.run(load(url, default_gazetteer(), scheduling_mix(count), chunk=CHUNK))
    asyncio.run(_load_content(url))
    return url, time.perf_counter() - started


async def _plan_once(url: str, now: dt.datetime) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from bot.services.local_info.planning import plan_day

    engine = create_engine(url)
    try:
        started = time.perf_counter()
        async with create_sessionmaker(engine)() as session, session.begin():
            result = await plan_day(session, now, ZoneInfo("Europe/London"))
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "seconds": round(seconds, 3),
        "queued": result.queued,
        "weeks": result.weeks,
        "services": result.services,
        "checkins": result.checkins,
    }


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child started from the big parent would report the parent's size."""
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(url: str, now: str) -> None:
    report = asyncio.run(_plan_once(url, dt.datetime.fromisoformat(now)))
    report["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(report))


def measure(url: str, now: dt.datetime) -> dict[str, Any]:
    """One planning run in a fresh process, so its peak RSS is the run's alone."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scheduling", "--child", url, now.isoformat()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> dict[str, Any]:
    memory_kb = 0
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            memory_kb = int(meminfo.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "sqlite": sqlite3.sqlite_version,
    }


def run(sizes: list[str], postgres_url: str) -> dict[str, Any]:
    """Every backend and size; returns the results document."""
    runs: list[dict[str, Any]] = []
    metrics: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scheduling-") as tmp:
        for backend in ("sqlite", "postgres"):
            for size in sizes:
                count = SIZES[size]
                url, setup_s = prepare(backend, count, Path(tmp), postgres_url)
                first = measure(url, NOW)
                next_day = measure(url, NOW + dt.timedelta(days=1))
                runs.append(
                    {
                        "backend": backend,
                        "residents": count,
                        "setup_s": round(setup_s, 1),
                        "first_run": first,
                        "next_day": next_day,
                    }
                )
                metrics[f"plan_s_{size}_{backend}"] = first["seconds"]
                metrics[f"peak_rss_mb_{size}_{backend}"] = first["peak_rss_mb"]
                metrics[f"plan_s_next_day_{size}_{backend}"] = next_day["seconds"]
                print(
                    f"{backend:8} {count:>9,} residents: first run {first['seconds']:7.2f} s "
                    f"({first['queued']:,} queued, {first['peak_rss_mb']} MB RSS); next day "
                    f"{next_day['seconds']:6.2f} s ({next_day['queued']:,} queued); "
                    f"setup {setup_s:.0f} s",
                    flush=True,
                )
        for backend in ("sqlite", "postgres"):
            small, large = sizes[0], sizes[-1]
            growth = SIZES[large] / SIZES[small]
            metrics[f"time_ratio_{large}_over_{small}_{backend}"] = round(
                metrics[f"plan_s_{large}_{backend}"] / metrics[f"plan_s_{small}_{backend}"], 2
            )
            metrics[f"size_ratio_{large}_over_{small}"] = growth
    return {
        "benchmark": "scheduling",
        "commit": _commit(),
        "machine": _machine(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "targets": {"plan_s_1m": 30, "peak_rss_mb_1m": 300},
        "metrics": metrics,
        "runs": runs,
    }


def markdown(document: dict[str, Any]) -> str:
    """The table for docs/PERFORMANCE.md."""
    lines = [
        "| backend | residents | first run (s) | rows queued | peak RSS (MB) | next day (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for entry in document["runs"]:
        first, later = entry["first_run"], entry["next_day"]
        lines.append(
            f"| {entry['backend']} | {entry['residents']:,} | {first['seconds']:.2f} | "
            f"{first['queued']:,} | {first['peak_rss_mb']:.0f} | {later['seconds']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """`python -m bench.scheduling [--quick]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k only (under a minute)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "NOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    postgres_url = os.environ.get("DATABASE_URL", "")
    if not postgres_url.startswith("postgresql"):
        postgres_url = DEFAULT_POSTGRES
    asyncio.run(ensure_postgres_database(postgres_url))
    sizes = ["10k", "100k"] if args.quick else ["10k", "100k", "1m"]
    document = run(sizes, postgres_url)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("scheduling-quick.json" if args.quick else "scheduling.json")
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(markdown(document))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
