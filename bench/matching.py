"""Matching benchmark: the candidate search at 10k, 100k and 1M residents, and whole-stack
sign-up-to-first-proposal throughput against a bare python-telegram-bot echo bot.

Candidate search: for each backend (SQLite, PostgreSQL) and size, a fresh database is migrated by
Alembic (the real schema and indexes), filled in bulk (executemany on SQLite, COPY on PostgreSQL)
with the shared generator's residents (bot/services/synthetic.py, bench/matching_data.py's mix)
spread over the 257 shipped Essex wards and 40 weeks of due dates, 95% signed up, their consent
events (health data and each optional choice; 80% yes to matching), and open suggestions for
about 1% of them. Then the real service
call, `find_candidates(..., limit=3)` in its own session and transaction (as a handler runs it),
is timed for residents picked at random from the matching pool.

Throughput: new residents sign up through the fake Bot API, the real bot and a SQLite database
already holding 10k residents, and tap "Show me mums near me" to get their first suggestions;
updates per second are compared with a bare PTB application echoing text on the same fake, in
the same run, so the ratio holds on a noisy machine.

    python -m bench.matching            # 10k, 100k and 1M (several minutes)
    python -m bench.matching --quick    # 10k and 100k (under a minute)

PostgreSQL: BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
bumpbuddies_bench_matching); the database is created if missing and its public schema dropped and
recreated. Results: bench/results/matching.json (or matching-quick.json), and a Markdown table on
stdout for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import telegram
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.matching_data import NOW, load_postgres, load_sqlite
from bot.clock import FixedClock
from bot.db import create_engine, create_sessionmaker
from bot.sandbox.fake_api import FakeTelegram
from bot.sandbox.fake_request import FakeRequest
from bot.services.matching.rules import MatchRules, ward_neighbours
from bot.services.matching.suggestions import find_candidates, in_pool_clause
from bot.services.places.geo import default_gazetteer
from models import Resident
from tests.harness import BotHarness

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/bumpbuddies_bench_matching"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
SAMPLES = 400
TARGET_P95_MS = 10.0
TARGET_GROWTH = 3.0
SIGNUPS = 40
# /start, agree, three optional choices, due date and its "yes", postcode, name, confirm,
# "show me".
UPDATES_PER_SIGNUP = 11


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def _time_candidates(url: str, seed: int = 7) -> dict[str, Any]:
    """p50/p95 of the real service call, each in its own unit of work."""
    rules = MatchRules()
    neighbours = ward_neighbours(default_gazetteer(), rules.distance_km)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            pool = list(await session.scalars(select(Resident.id).where(in_pool_clause())))
            # One resident per ward, so every statement shape (a ward has 0 to 11 neighbours) is
            # compiled and prepared before timing starts, as it is in a bot that has been up.
            per_ward = list(
                await session.scalars(
                    select(func.min(Resident.id))
                    .where(in_pool_clause())
                    .group_by(Resident.ward_code)
                )
            )
        picked = random.Random(seed).sample(pool, min(len(pool), SAMPLES))
        timings: list[float] = []
        found: list[int] = []
        for resident_id in per_ward:
            async with sessions() as session, session.begin():
                await find_candidates(session, resident_id, NOW, rules, neighbours, limit=3)
        gc.collect()
        for resident_id in picked:
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                candidates = await find_candidates(
                    session, resident_id, NOW, rules, neighbours, limit=rules.shown
                )
            timings.append((time.perf_counter() - started) * 1000)
            found.append(len(candidates))
    finally:
        await engine.dispose()
    return {
        "p50_ms": round(_percentile(timings, 0.50), 3),
        "p95_ms": round(_percentile(timings, 0.95), 3),
        "max_ms": round(max(timings), 3),
        "samples": len(timings),
        "mean_candidates": round(statistics.mean(found), 2),
    }


def _postgres_reachable(url: str) -> bool:
    async def probe() -> None:
        base = url.replace("postgresql+asyncpg://", "postgresql://").rpartition("/")[0]
        connection = await asyncpg.connect(f"{base}/postgres", timeout=5)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def _search(sizes: list[str], work: Path, postgres: str | None) -> dict[str, Any]:
    gazetteer = default_gazetteer()
    results: dict[str, Any] = {"sqlite": {}, "postgres": {}}
    for label in sizes:
        n = SIZES[label]
        started = time.perf_counter()
        url = load_sqlite(work / f"matching-{label}.sqlite3", n, gazetteer)
        loaded = time.perf_counter() - started
        measured = asyncio.run(_time_candidates(url))
        results["sqlite"][label] = {"residents": n, "load_seconds": round(loaded, 1), **measured}
        print(f"sqlite   {label:>5}: {measured} (loaded in {loaded:.1f}s)", flush=True)
        if postgres is not None:
            started = time.perf_counter()
            load_postgres(postgres, n, gazetteer)
            loaded = time.perf_counter() - started
            measured = asyncio.run(_time_candidates(postgres))
            results["postgres"][label] = {
                "residents": n,
                "load_seconds": round(loaded, 1),
                **measured,
            }
            print(f"postgres {label:>5}: {measured} (loaded in {loaded:.1f}s)", flush=True)
    return results


async def _echo_rate(updates: int) -> float:
    """Updates per second through a bare PTB application that echoes text on the fake."""
    fake = FakeTelegram()
    application = (
        ApplicationBuilder()
        .token(fake.token)
        .request(FakeRequest(fake))
        .get_updates_request(FakeRequest(fake))
        .build()
    )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    application.add_handler(MessageHandler(filters.TEXT, echo))
    users = [fake.new_user(f"Echo {i}") for i in range(SIGNUPS)]
    await application.initialize()
    try:
        started = time.perf_counter()
        for i in range(updates):
            raw = fake.send_message(users[i % len(users)], f"hello {i}")
            await application.process_update(Update.de_json(raw, application.bot))
        elapsed = time.perf_counter() - started
    finally:
        await application.shutdown()
    return updates / elapsed


async def _signup_rate(url: str) -> tuple[float, int]:
    """Updates per second for sign-up through to the first suggestions, on the whole stack."""
    from tests.factories import onboard

    fake = FakeTelegram()
    clock = FixedClock(NOW)
    proposals = 0
    async with BotHarness.start(fake, url, clock) as bot:
        users = [fake.new_user(f"Bench {i}") for i in range(SIGNUPS)]
        started = time.perf_counter()
        for user in users:
            await onboard(bot, user, due="14/03/2027")
            sent = await bot.press(user, "👋 Show me mums near me")
            proposals += sum("👋 Say hello" in m.button_texts() for m in sent)
        elapsed = time.perf_counter() - started
    assert fake.violations == [], fake.violations
    return SIGNUPS * UPDATES_PER_SIGNUP / elapsed, proposals


def _throughput(work: Path) -> dict[str, Any]:
    url = load_sqlite(work / "matching-throughput.sqlite3", SIZES["10k"], default_gazetteer())
    echo = asyncio.run(_echo_rate(SIGNUPS * UPDATES_PER_SIGNUP))
    stack, proposals = asyncio.run(_signup_rate(url))
    # Echo again after, so a burst of noise during one of them shows as a spread.
    echo_after = asyncio.run(_echo_rate(SIGNUPS * UPDATES_PER_SIGNUP))
    baseline = (echo + echo_after) / 2
    print(
        f"throughput: echo {echo:.0f}/{echo_after:.0f} updates/s, "
        f"sign-up to first proposal {stack:.0f} updates/s ({proposals} cards)",
        flush=True,
    )
    return {
        "signups": SIGNUPS,
        "updates": SIGNUPS * UPDATES_PER_SIGNUP,
        "echo_updates_per_second": round(baseline, 1),
        "echo_spread": [round(echo, 1), round(echo_after, 1)],
        "signup_updates_per_second": round(stack, 1),
        "first_proposal_cards": proposals,
        "ratio_vs_echo": round(stack / baseline, 4),
        "database": "sqlite, 10k residents already in it",
    }


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "python_telegram_bot": telegram.__version__,
    }


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head}+uncommitted" if git("status", "--porcelain") else head


def _metrics(search: dict[str, Any], throughput: dict[str, Any], top: str) -> dict[str, Any]:
    metrics: dict[str, Any] = {"throughput_ratio_vs_echo": throughput["ratio_vs_echo"]}
    for backend, sizes in search.items():
        if top in sizes:
            metrics[f"p95_ms_{top}_{backend}"] = sizes[top]["p95_ms"]
            metrics[f"p50_ms_{top}_{backend}"] = sizes[top]["p50_ms"]
            if "10k" in sizes:
                growth = sizes[top]["p95_ms"] / sizes["10k"]["p95_ms"]
                metrics[f"growth_{top}_over_10k_{backend}"] = round(growth, 2)
    return metrics


def _table(search: dict[str, Any]) -> str:
    lines = [
        "| backend | residents | p50 ms | p95 ms | max ms | mean candidates | load s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, sizes in search.items():
        for row in sizes.values():
            lines.append(
                f"| {backend} | {row['residents']:,} | {row['p50_ms']} | {row['p95_ms']} | "
                f"{row['max_ms']} | {row['mean_candidates']} | {row['load_seconds']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10k and 100k only")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    sizes = ["10k", "100k"] if args.quick else ["10k", "100k", "1m"]
    postgres_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    postgres = None if args.no_postgres or not _postgres_reachable(postgres_url) else postgres_url
    work = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "bumpbuddies-bench"))
    work.mkdir(parents=True, exist_ok=True)

    search = _search(sizes, work, postgres)
    throughput = _throughput(work)
    top = sizes[-1]
    metrics = _metrics(search, throughput, top)
    targets = {
        f"p95_ms_{top}_{backend}": metrics.get(f"p95_ms_{top}_{backend}", float("inf"))
        <= TARGET_P95_MS
        for backend in ("sqlite", "postgres")
    } | {
        f"growth_{top}_over_10k_{backend}": metrics.get(
            f"growth_{top}_over_10k_{backend}", float("inf")
        )
        <= TARGET_GROWTH
        for backend in ("sqlite", "postgres")
    }
    result = {
        "benchmark": "matching",
        "mode": "quick" if args.quick else "full",
        "commit": _commit(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "postgres": "skipped (not reachable)" if postgres is None else "measured",
        "targets": {"p95_ms": TARGET_P95_MS, "growth_over_10k": TARGET_GROWTH, "met": targets},
        "metrics": metrics,
        "candidate_search": search,
        "throughput": throughput,
        "note": (
            "Shared 2-core machine with other test suites running at the same time; compare "
            "ratios measured in one run. Times include checking out a pooled connection (with "
            "pre-ping), BEGIN and COMMIT, as a handler's unit of work does."
        ),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("matching-quick.json" if args.quick else "matching.json")
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(ROOT)}\n")
    print(_table(search))
    print(f"\nmetrics: {json.dumps(metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
