"""Load benchmark: residents sign up and use the bot through webhooks, against `serve --workers N`.

Every simulated resident has her own chat with the bot. She signs up (ten steps: consent, three
optional choices, due date and its check, postcode, name, summary) and then sends /match,
/services and /privacy; after each reply she "thinks" for a while (about 3 s, uniform 2 to 4 s, or
no time at all in the burst scenarios). The fake Bot API (bot/sandbox/fake_http.py) runs in this
process and pushes every update to the workers' webhook as Telegram does, retrying a push that
got no 2xx answer; a reply's time is from the push being queued to the bot's answer reaching
the fake. An update is *lost* when its expected answer never came (within STEP_TIMEOUT); she
then gives up, so a lost step also leaves her sign-up unfinished.

Scenarios, in one run:
- echo: the bare python-telegram-bot echo bot (bench/echo_bot.py) on the same fake, 20 chats
  sending their 13 messages with no think time: the ceiling in updates per second;
- with one worker: one resident at a time (3 of them, one after another), then 20 at once with
  no think time, then 100 with think time;
- with two workers: 20 at once, 100 with think time, then a run in which one of the two workers
  is SIGKILLed half-way (the supervisor starts another), then one in which PostgreSQL is
  restarted half-way (only with --restart-cluster, which names this benchmark's own cluster).

CPU: every process's user+system time over each scenario, read from /proc: the workers (summed;
a killed worker's time goes with it), and this process, which is the fake *and* the load
generator in one event loop (they cannot be told apart without a profiler).

Per step of the script: her wait (p50/p95), how many messages the bot sent her for it, and the
worker's time by part (turn, db, slot, telegram, app: bot/update_timing.py) from the
Server-Timing header of each webhook answer.

`--unpaced` turns Telegram's limits off in the workers (no second per chat, no 30 a second) to
show what their own work allows; the echo bot never paces, so only this compares the two as
equals. It is a measurement, never a way to run the bot.

`python -m bench.load --database-url postgresql+asyncpg://…` for the full run (about 8 minutes);
`--quick` for a smoke test with a handful of residents (SQLite allowed, one worker).
Results go to bench/results/load.json (load-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import upgrade_database
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.sandbox.fake_http import FakeTelegramServer
from bot.services.local_info.content import store_in_database
from bot.services.local_info.content_files import read_content
from bot.services.places.geo import default_gazetteer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SECRET = "load-bench-webhook-secret"
SAFEGUARDING_SECRET = "load-bench-safeguarding-secret-0123456789"
STARTUP_TIMEOUT = 180.0
# How long she waits for an answer before counting the update lost; the fake retries an
# unanswered push every second meanwhile.
STEP_TIMEOUT = 40.0
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Step:
    """What she does (types or presses) and a piece of the answer she waits for."""

    kind: str  # "say" or "press"
    what: str | int
    expect: str


SIGN_UP = [
    Step("say", "/start", "Are you happy for us to keep these details?"),
    Step("press", "Yes, I agree", "Meeting other mums-to-be"),
    Step("press", "Yes please", "Local information"),
    Step("press", "No thanks", "Feedback"),
    Step("press", "Yes please", "When is your baby due?"),
    Step("say", "20 weeks", "Is that right?"),
    Step("press", "Yes, that's right", "Which neighbourhood"),
    Step("say", "CO1 1AA", "What name would you like"),
    Step("press", 0, "Here's what you've told me"),
    Step("press", "✅ That's right", "You're all set"),
]
AFTERWARDS = [Step("say", "/match", ""), Step("say", "/services", ""), Step("say", "/privacy", "")]
SCRIPT = SIGN_UP + AFTERWARDS
ECHO_SCRIPT = [Step("say", f"hello {n:02d}", f"hello {n:02d}") for n in range(len(SCRIPT))]


class Inbox(list[SentMessage]):
    """The fake's list of sent messages, also filed per chat with when each arrived.

    The fake's own wait_for_message scans every message sent to any chat on every wake-up, which
    with hundreds of waiting residents would make the load generator the bottleneck.
    """

    def __init__(self) -> None:
        super().__init__()
        self.by_chat: dict[int, list[tuple[float, SentMessage]]] = defaultdict(list)
        self.waiters: dict[int, asyncio.Event] = {}

    def append(self, message: SentMessage) -> None:
        super().append(message)
        self.by_chat[message.chat_id].append((time.perf_counter(), message))
        waiter = self.waiters.get(message.chat_id)
        if waiter is not None:
            waiter.set()

    async def answer(self, chat_id: int, expect: str, after: int, limit: float) -> float | None:
        """When the first message at index >= after containing `expect` arrived, or None."""
        deadline = time.perf_counter() + limit
        while True:
            for arrived, message in self.by_chat[chat_id][after:]:
                if expect in message.plain_text:
                    return arrived
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            event = self.waiters.setdefault(chat_id, asyncio.Event())
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                return None


@dataclass
class Outcome:
    """What happened to the residents of one scenario."""

    latencies_ms: list[float] = field(default_factory=list)
    # Per step of the script: her wait for its answer, and how many messages the bot sent her
    # between that step and her next (each counted message takes a second of her chat's limit).
    step_ms: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    step_messages: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    step_updates: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    lost: int = 0
    signed_up: int = 0
    residents: int = 0
    duplicates: int = 0
    first: float = 0.0
    last: float = 0.0


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


class Residents:
    """Drives residents through a script against whatever serves the fake's webhook."""

    def __init__(self, fake: FakeTelegram, inbox: Inbox, seed: int = 12) -> None:
        self.fake = fake
        self.inbox = inbox
        self.random = random.Random(seed)
        self.made = 0

    def new(self) -> FakeUser:
        self.made += 1
        return self.fake.new_user(f"Resident{self.made}", username=f"resident_{self.made}")

    async def one(
        self, user: FakeUser, script: list[Step], think: Callable[[], float], outcome: Outcome
    ) -> None:
        """She goes through the script; stops at the first answer that never comes."""
        previous: int | None = None
        for number, step in enumerate(script):
            after = len(self.inbox.by_chat[user.id])
            if previous is not None:
                outcome.step_messages[number - 1].append(after - previous)
            previous = after
            if step.kind == "say":
                update = self.fake.send_message(user, str(step.what))
            else:
                target = next(
                    m for _, m in reversed(self.inbox.by_chat[user.id]) if m.has_inline_keyboard
                )
                update = self.fake.press_button(user, target, step.what)
            outcome.step_updates[number].append(update["update_id"])
            sent = time.perf_counter()
            arrived = await self.inbox.answer(user.id, step.expect, after, STEP_TIMEOUT)
            if arrived is None:
                outcome.lost += 1
                return
            outcome.latencies_ms.append((arrived - sent) * 1000)
            outcome.step_ms[number].append((arrived - sent) * 1000)
            outcome.last = max(outcome.last, arrived)
            if script is SCRIPT and number == len(SIGN_UP) - 1:
                outcome.signed_up += 1
            pause = think()
            if pause:
                await asyncio.sleep(pause)

    async def run(
        self,
        count: int,
        script: list[Step],
        think: Callable[[], float],
        spread: float = 0.0,
        during: Callable[[], Any] | None = None,
        *,
        one_at_a_time: bool = False,
    ) -> Outcome:
        """`count` residents at once (their first message spread over `spread` seconds)."""
        outcome = Outcome(residents=count, first=time.perf_counter())
        users = [self.new() for _ in range(count)]
        if one_at_a_time:
            for user in users:
                await self.one(user, script, think, outcome)
            outcome.duplicates = self.repeats(users)
            return outcome

        async def start(user: FakeUser, delay: float) -> None:
            await asyncio.sleep(delay)
            await self.one(user, script, think, outcome)

        tasks = [
            asyncio.create_task(start(u, self.random.uniform(0, spread) if spread else 0.0))
            for u in users
        ]
        if during is not None:
            await during()
        await asyncio.gather(*tasks)
        outcome.duplicates = self.repeats(users)
        return outcome

    def repeats(self, users: list[FakeUser]) -> int:
        """Messages identical to one sent to her before: an answer sent again."""
        count = 0
        for user in users:
            texts = [m.plain_text for _, m in self.inbox.by_chat[user.id]]
            count += len(texts) - len(set(texts))
        return count

    def think(self, mean: float) -> Callable[[], float]:
        if mean <= 0:
            return lambda: 0.0
        return lambda: self.random.uniform(mean * 2 / 3, mean * 4 / 3)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def descendants(pid: int) -> list[int]:
    """Every process under `pid`, from /proc (the uvicorn supervisor's workers)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except FileNotFoundError:
            continue
        kids = [int(c) for c in children]
        found += kids
        frontier += kids
    return found


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


class Served:
    """A `serve --workers N` (or the echo bot) process tree against the fake."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def pids(self) -> list[int]:
        return [self.process.pid, *descendants(self.process.pid)]

    def workers(self) -> list[int]:
        """The processes that take updates: the supervisor's children, or the one process."""
        return descendants(self.process.pid) or [self.process.pid]

    def cpu(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in self.pids()}


@asynccontextmanager
async def served(
    fake: FakeTelegram, server: FakeTelegramServer, env: dict[str, str], arguments: list[str]
) -> AsyncIterator[Served]:
    """Start a server process whose webhook the fake pushes to; SIGTERM it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/updates"
    before = len(fake.calls_to("setWebhook"))
    log = Path(tempfile.mkstemp(prefix="load-bench-", suffix=".log")[1])
    command = [a.format(url=url, port=port) for a in arguments]
    out = log.open("wb")  # noqa: ASYNC230 - a local temp file, opened once per server
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, env=env, cwd=tempfile.gettempdir(), stdout=out, stderr=out
    )
    out.close()
    running = Served(process, port, log)
    try:
        # Ready when the webhook is set and the process answers on its port.
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while len(fake.calls_to("setWebhook")) <= before:
                if process.returncode is not None:
                    raise RuntimeError(f"server exited; its output is in {log}")
                await asyncio.sleep(0.2)
            await wait_ready(port, "/healthz" if "echo_bot" in command[1] else "/readyz")
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_ready(port: int, path: str) -> None:
    """Poll until `path` answers 200 (the echo bot has no probes: any answer will do)."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            try:
                response = await client.get(f"http://127.0.0.1:{port}{path}")
                if response.status_code == 200 or path == "/healthz":
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


async def measure(
    label: str,
    target: Served,
    residents: Residents,
    count: int,
    script: list[Step],
    think: float,
    spread: float = 0.0,
    during: Callable[[], Any] | None = None,
    *,
    one_at_a_time: bool = False,
) -> dict[str, Any]:
    """One scenario's figures: latencies, throughput, losses, CPU per process, load average."""
    load_before = load_average()
    workers_before, mine_before = target.cpu(), own_cpu()
    outcome = await residents.run(
        count, script, residents.think(think), spread, during, one_at_a_time=one_at_a_time
    )
    workers_after, mine_after = target.cpu(), own_cpu()
    wall = max(outcome.last - outcome.first, 1e-9)
    handled = len(outcome.latencies_ms)
    timings = server_timings(residents.fake)
    workers_cpu = sum(
        workers_after.get(pid, 0.0) - workers_before.get(pid, 0.0) for pid in workers_after
    )
    result: dict[str, Any] = {
        "residents": count,
        "think_s": think,
        "updates_answered": handled,
        "lost_updates": outcome.lost,
        "signed_up": outcome.signed_up if script is SCRIPT else None,
        "duplicate_answers": outcome.duplicates,
        "p50_ms": round(statistics.median(outcome.latencies_ms), 1) if handled else None,
        "p95_ms": round(p95(outcome.latencies_ms) or 0, 1) if handled else None,
        "max_ms": round(max(outcome.latencies_ms), 1) if handled else None,
        "wall_s": round(wall, 2),
        "updates_per_s": round(handled / wall, 2),
        "cpu_s_workers": round(workers_cpu, 2),
        "cpu_s_fake_and_load_generator": round(mine_after - mine_before, 2),
        "cpu_ms_per_update_workers": round(workers_cpu * 1000 / handled, 1) if handled else None,
        "cpu_ms_per_update_fake_and_generator": (
            round((mine_after - mine_before) * 1000 / handled, 1) if handled else None
        ),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "steps": per_step(outcome, script, timings),
    }
    everything = [timings[u] for ids in outcome.step_updates.values() for u in ids if u in timings]
    if everything:
        result["worker_ms_mean"] = {
            name: round(statistics.mean(p.get(name, 0.0) for p in everything), 1)
            for name in everything[0]
        }
    print(f"{label}: {json.dumps({k: v for k, v in result.items() if k != 'steps'})}", flush=True)
    return result


def server_timings(fake: FakeTelegram) -> dict[int, dict[str, float]]:
    """Each answered push's Server-Timing (bot/update_timing.py) by update_id, in ms."""
    found: dict[int, dict[str, float]] = {}
    for attempt in fake.webhook_attempts:
        if attempt.server_timing and attempt.status is not None and attempt.status < 300:
            found[attempt.update_id] = {
                name: float(value)
                for name, value in re.findall(r"(\w+);dur=([0-9.]+)", attempt.server_timing)
            }
    return found


def per_step(
    outcome: Outcome, script: list[Step], timings: dict[int, dict[str, float]]
) -> list[dict[str, Any]]:
    """Her wait at each step of the script (p50/p95), the messages each step brought, and
    where the worker's time went (mean ms per part, from its Server-Timing answers)."""
    rows: list[dict[str, Any]] = []
    for number, step in enumerate(script):
        waits = outcome.step_ms.get(number, [])
        sent = outcome.step_messages.get(number, [])
        parts = [timings[u] for u in outcome.step_updates.get(number, []) if u in timings]
        row: dict[str, Any] = {
            "step": f"{step.kind} {step.what}",
            "answered": len(waits),
            "p50_ms": round(statistics.median(waits), 1) if waits else None,
            "p95_ms": round(p95(waits) or 0, 1) if waits else None,
            "messages_mean": round(statistics.mean(sent), 2) if sent else None,
        }
        if parts:
            row["worker_ms_mean"] = {
                name: round(statistics.mean(p.get(name, 0.0) for p in parts), 1)
                for name in parts[0]
            }
        rows.append(row)
    return rows


def server_env(fake: FakeTelegram, server: FakeTelegramServer, database_url: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "BOT_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=fake.token,
        BOT_API_BASE_URL=server.base_url,
        DATABASE_URL=database_url,
        SAFEGUARDING_SECRET=SAFEGUARDING_SECRET,
        WEBHOOK_SECRET_TOKEN=SECRET,
        # Replies are sent whatever the hour the benchmark runs.
        QUIET_HOURS_START="0",
        QUIET_HOURS_END="0",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


async def fresh_database(database_url: str) -> None:
    """An empty database at the latest migration with the sample content loaded."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        await admin.dispose()
    elif url.database:
        await asyncio.to_thread(Path(url.database).unlink, missing_ok=True)
    await asyncio.to_thread(upgrade_database, database_url)
    gazetteer = default_gazetteer()
    content = read_content(ROOT / "content", gazetteer)
    await store_in_database(database_url, content, gazetteer, dt.datetime.now(dt.UTC))


@dataclass
class Plan:
    """How big each scenario is."""

    single_residents: int
    burst: int
    crowd: int
    think: float
    spread: float
    workers: list[int]
    kill: bool
    restart_cluster: str | None
    # Which scenarios to run (all by default; a subset to compare two versions of the code).
    only: frozenset[str] = frozenset({"echo", "single", "burst", "crowd", "kill", "restart"})
    # Run the one-worker server under cProfile (CPU time), writing its stats here.
    profile: Path | None = None
    # Telegram's limits off (no second per chat, no 30 a second): what the workers can do
    # when pacing does not decide, to compare their work with the echo bot's. Not a way to run.
    unpaced: bool = False


async def readiness_watch(port: int, stop: asyncio.Event) -> list[tuple[float, int]]:
    """/readyz of one worker every 0.2 s until stopped: (time, status; 0 for no answer)."""
    seen: list[tuple[float, int]] = []
    async with httpx.AsyncClient(timeout=3.5) as client:
        while not stop.is_set():
            try:
                status = (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code
            except httpx.TransportError:
                status = 0
            seen.append((time.perf_counter(), status))
            await asyncio.sleep(0.2)
    return seen


async def run(plan: Plan, database_url: str) -> dict[str, Any]:
    fake = FakeTelegram(allow_http_loopback_webhook=True)
    # Telegram retries with growing gaps; a second keeps a lost push from dominating the run.
    fake.webhook_max_retry = 1.0
    inbox = Inbox()
    fake.sent = inbox
    residents = Residents(fake, inbox)
    results: dict[str, Any] = {"scenarios": {}}
    scenarios = results["scenarios"]
    async with FakeTelegramServer(fake) as server:
        env = server_env(fake, server, database_url)
        if plan.unpaced:
            env.update(DELIVERY_PER_CHAT_INTERVAL_SECONDS="0", DELIVERY_MAX_PER_SECOND="100000")
        echo_args = ["-m", "bench.echo_bot", "{url}", "127.0.0.1", "{port}"]
        if "echo" in plan.only:
            async with served(fake, server, env, echo_args) as echo:
                scenarios["echo_burst"] = await measure(
                    "echo_burst", echo, residents, plan.burst, ECHO_SCRIPT, 0.0
                )
        for workers in plan.workers:
            await fresh_database(database_url)
            serve_args = ["-m", "bot", "serve", "--workers", str(workers), "--webhook", "{url}"]
            if plan.profile is not None and workers == 1:
                serve_args = ["-m", "bench.profiled", str(plan.profile), *serve_args]
            serve_args += ["--host", "127.0.0.1", "--port", "{port}"]
            async with served(fake, server, env, serve_args) as bot:
                name = f"workers_{workers}"
                if workers == 1 and "single" in plan.only:
                    scenarios[f"{name}_single"] = await measure(
                        f"{name}_single",
                        bot,
                        residents,
                        plan.single_residents,
                        SCRIPT,
                        0.0,
                        one_at_a_time=True,
                    )
                if "burst" in plan.only:
                    scenarios[f"{name}_burst"] = await measure(
                        f"{name}_burst", bot, residents, plan.burst, SCRIPT, 0.0
                    )
                if "crowd" in plan.only:
                    scenarios[f"{name}_crowd"] = await measure(
                        f"{name}_crowd", bot, residents, plan.crowd, SCRIPT, plan.think, plan.spread
                    )
                if workers > 1 and plan.kill and "kill" in plan.only:
                    scenarios[f"{name}_worker_kill"] = await kill_scenario(bot, residents, plan)
                if workers > 1 and plan.restart_cluster and "restart" in plan.only:
                    scenarios[f"{name}_db_restart"] = await restart_scenario(
                        bot, residents, plan, plan.restart_cluster
                    )
    results["figures"] = figures(scenarios)
    return results


async def kill_scenario(bot: Served, residents: Residents, plan: Plan) -> dict[str, Any]:
    killed: dict[str, Any] = {}

    async def kill_half_way() -> None:
        await asyncio.sleep(plan.think * len(SCRIPT) / 2 + plan.spread)
        victim = bot.workers()[0]
        killed["pid"] = victim
        killed["at_load"] = load_average()
        os.kill(victim, signal.SIGKILL)

    result = await measure(
        "worker_kill",
        bot,
        residents,
        plan.crowd,
        SCRIPT,
        plan.think,
        plan.spread,
        during=kill_half_way,
    )
    result["killed_worker"] = "one of two, SIGKILL, half-way through"
    return result


async def restart_scenario(
    bot: Served, residents: Residents, plan: Plan, cluster: str
) -> dict[str, Any]:
    timeline: dict[str, float | None] = {}
    stop = asyncio.Event()
    watch = asyncio.create_task(readiness_watch(bot.port, stop))

    async def restart_half_way() -> None:
        await asyncio.sleep(plan.think * len(SCRIPT) / 2 + plan.spread)
        version, name = cluster.split("/")
        timeline["restart_started"] = time.perf_counter()
        await asyncio.to_thread(
            subprocess.run, ["pg_ctlcluster", version, name, "restart", "-m", "fast"], check=True
        )
        timeline["restart_finished"] = time.perf_counter()

    result = await measure(
        "db_restart",
        bot,
        residents,
        plan.crowd,
        SCRIPT,
        plan.think,
        plan.spread,
        during=restart_half_way,
    )
    stop.set()
    seen = await watch
    started, finished = timeline["restart_started"], timeline["restart_finished"]
    assert started is not None and finished is not None
    not_ready = [t for t, status in seen if t >= started and status != 200]
    ready_again = next((t for t, status in seen if t > finished and status == 200), None)
    result["restart_s"] = round(finished - started, 2)
    result["readyz_not_ready_seen"] = bool(not_ready)
    result["ready_again_s_after_restart"] = (
        round(ready_again - finished, 2) if ready_again is not None else None
    )
    return result


def figures(scenarios: dict[str, Any]) -> dict[str, Any]:
    """The five figures of issue 12 §6 from the scenarios."""
    single_p95 = scenarios.get("workers_1_single", {}).get("p95_ms")
    burst_1 = scenarios.get("workers_1_burst", {})
    echo = scenarios.get("echo_burst", {})
    crowd_2 = scenarios.get("workers_2_crowd", {})
    kill = scenarios.get("workers_2_worker_kill")
    restart = scenarios.get("workers_2_db_restart")
    out: dict[str, Any] = {
        "p95_ms_100_residents": crowd_2.get("p95_ms"),
        "p95_ms_1_resident": single_p95,
        "p95_ratio_20_over_1": (
            round(burst_1["p95_ms"] / single_p95, 2) if single_p95 and burst_1 else None
        ),
        "updates_per_s_1_worker": burst_1.get("updates_per_s"),
        "updates_per_s_2_workers": scenarios.get("workers_2_burst", {}).get("updates_per_s"),
        "updates_per_s_echo": echo.get("updates_per_s"),
        "updates_ratio_vs_echo": (
            round(
                max(
                    burst_1.get("updates_per_s", 0),
                    scenarios.get("workers_2_burst", {}).get("updates_per_s", 0),
                )
                / echo["updates_per_s"],
                3,
            )
            if echo.get("updates_per_s")
            else None
        ),
        "lost_updates_worker_kill": kill["lost_updates"] if kill else None,
        "signed_up_after_worker_kill": (
            f"{kill['signed_up']}/{kill['residents']}" if kill else None
        ),
        "lost_updates_db_restart": restart["lost_updates"] if restart else None,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a handful of residents, one worker")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    parser.add_argument("--workers", default=None, help="comma-separated (default 1,2; quick 1)")
    parser.add_argument(
        "--restart-cluster",
        default=None,
        help="VERSION/NAME of this benchmark's own PostgreSQL cluster, restarted mid-run",
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        help="comma-separated subset of echo,single,burst,crowd,kill,restart (default: all)",
    )
    parser.add_argument("--crowd", type=int, default=None, help="residents in the crowd")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the one worker")
    parser.add_argument(
        "--unpaced",
        action="store_true",
        help="Telegram's limits off in the workers (a second per chat, 30/s): their work alone",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    database_url = args.database_url or (
        f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='load-bench-')) / 'bot.sqlite3'}"
    )
    on_sqlite = database_url.startswith("sqlite")
    default_workers = "1" if args.quick or on_sqlite else "1,2"
    workers = [int(w) for w in (args.workers or default_workers).split(",")]
    if on_sqlite and max(workers) > 1:
        raise SystemExit("more than one worker needs PostgreSQL (--database-url)")
    if args.quick:
        plan = Plan(1, 4, 6, 0.3, 0.5, workers, kill=max(workers) > 1, restart_cluster=None)
    else:
        plan = Plan(3, 20, 100, 3.0, 3.0, workers, kill=True, restart_cluster=args.restart_cluster)
    if args.scenarios:
        plan.only = frozenset(args.scenarios.split(","))
    plan.profile = args.profile
    plan.unpaced = args.unpaced
    if args.crowd:
        plan.crowd = args.crowd
    started = dt.datetime.now(dt.UTC)
    results = asyncio.run(run(plan, database_url))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    results["settings"] = {
        "database": make_url(database_url).get_backend_name(),
        "quick": args.quick,
        "plan": {**plan.__dict__, "only": sorted(plan.only), "profile": str(plan.profile)},
        "commit": commit,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
        ),
    }
    name = "load-quick" if args.quick else "load-unpaced" if args.unpaced else "load"
    out = args.out or RESULTS / f"{name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["figures"], indent=2))


if __name__ == "__main__":
    main()
