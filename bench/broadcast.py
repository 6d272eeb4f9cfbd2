"""Broadcast benchmark: the real `bumpbuddies run` against a fake Bot API that enforces the limits.

Three scenarios, each with its own database, fake Telegram (served over HTTP on 127.0.0.1) and bot
process, which sends one service announcement to every resident:

- ceiling: 30 messages a second overall, 1 a second per chat; achieved rate as a ratio of 30/s;
- resume: the same, with the bot process SIGKILLed at about 50% and started again;
- paid: allow_paid_broadcast with the ceiling at 1000 a second; achieved messages per second, and
  where the time went (CPU seconds of the bot process and of the fake, against wall time);
- bare: the yardstick for paid, run just before and just after it: bench/bare_sender.py, the
  simplest loop of raw HTTP posts to a fake like paid's, no database, with as many connections
  and requests in flight as the bot's bulk sender. `paid_ratio_vs_bare` is paid's rate over the
  mean of the two.

The first two run side by side (separate fakes are separate bots, each with its own limits; at 30
messages a second neither needs much CPU), then bare, paid and bare again, each alone.
`python -m bench.broadcast` uses 10,000 recipients; `--quick` 1,000 (about a minute);
`--paid-only` skips the 30-a-second scenarios (for profiling). Results go to
bench/results/broadcast.json (or broadcast-quick.json); the machine is shared, so the load average
is recorded around every scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.population import load
from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, upgrade_database
from bot.sandbox.fake_api import FakeTelegram
from bot.sandbox.fake_http import FakeTelegramServer
from bot.sandbox.flood_control import FloodControl
from bot.services.places.geo import default_gazetteer
from bot.services.synthetic import Mix, Window
from models import (
    Broadcast,
    BroadcastPurpose,
    BroadcastStatus,
    Delivery,
    DeliveryStatus,
    StaffMember,
    StaffRole,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TEXT = "<b>Service update</b>: Bump Buddies is moving to a new privacy notice on 1 January."
CEILING = 30.0
PAID_CEILING = 1000.0
# The resumed process takes over rows its killed predecessor had claimed once their lease ends.
LEASE_SECONDS = 5
START_TIMEOUT = 60.0
# The bot's bulk sender has one keep-alive connection per request in flight; the bare sender too.
IN_FLIGHT = Settings(_env_file=None).delivery_max_in_flight
_MIGRATING = asyncio.Lock()
# Everyone lives in one Chelmsford ward: the audience is "everyone", so where does not matter.
WARD = "E05015473"


@dataclass
class Outcome:
    """What one scenario measured."""

    recipients: int
    accepted: int = 0
    duplicates: int = 0
    lost: int = 0
    refused_429: int = 0
    first_send: float = 0.0
    last_send: float = 0.0
    wall_seconds: float = 0.0
    bot_cpu_seconds: float = 0.0
    fake_cpu_seconds: float = 0.0
    killed_after: int | None = None
    rows_left: int = 0
    failed_rows: int = 0
    load_average: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Messages per second from the first send to the last."""
        span = self.last_send - self.first_send
        return (self.accepted - 1) / span if span > 0 else 0.0


class Watch:
    """Counts the fake's accepted sends to residents, and when they happened."""

    def __init__(self, fake: FakeTelegram, residents: set[int]) -> None:
        self.fake = fake
        self.residents = residents
        self.times: list[float] = []
        self.per_chat: Counter[int] = Counter()
        real_call = fake.call

        async def call(method: str, params: Any, files: Any = None) -> dict[str, Any]:
            response = await real_call(method, params, files)
            if method == "sendMessage" and response.get("ok"):
                chat = int(params.get("chat_id", 0))
                if chat in self.residents:
                    self.per_chat[chat] += 1
                    self.times.append(time.monotonic())
            return response

        fake.call = call  # type: ignore[method-assign]

    @property
    def accepted(self) -> int:
        return len(self.times)


def broadcast_mix(now: dt.datetime, telegram_ids: list[int]) -> Mix:
    """Everyone signed up, in one ward, reachable: each is one of the fake's users."""
    return Mix(
        count=len(telegram_ids),
        now=now,
        wards=(WARD,),
        joined=(Window(0, 0),),
        due=Window(100, 101),
        telegram_ids=telegram_ids,
    )


async def _seed(url: str, fake: FakeTelegram, count: int) -> tuple[set[int], int]:
    """Residents (one Telegram user each) and a broadcaster; returns their ids."""
    # Alembic's env runs its own event loop, so it gets a thread of its own; one at a time, as
    # Alembic keeps module-level state.
    async with _MIGRATING:
        await asyncio.to_thread(upgrade_database, url)
    now = dt.datetime.now(dt.UTC)
    users = [fake.new_user(f"Mum {n}", started=True) for n in range(count)]
    sender = fake.new_user("Broadcaster", started=True)
    await load(url, default_gazetteer(), broadcast_mix(now, [user.id for user in users]))
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            staff_id = (
                await connection.execute(
                    insert(StaffMember.__table__)  # type: ignore[arg-type]
                    .values(telegram_user_id=sender.id, role=StaffRole.BROADCASTER, added_at=now)
                    .returning(StaffMember.__table__.c.id)
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return {user.id for user in users}, staff_id


async def _schedule(engine: AsyncEngine, staff_id: int, paid: bool) -> None:
    """A service announcement to everyone, due now: the bot's release job picks it up."""
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(Broadcast.__table__).values(  # type: ignore[arg-type]
                created_by_id=staff_id,
                status=BroadcastStatus.SCHEDULED,
                purpose=BroadcastPurpose.SERVICE,
                text=TEXT,
                audience={"kind": "everyone"},
                paid=paid,
                revision=1,
                send_at=now,
                created_at=now,
                updated_at=now,
            )
        )


def _bot_env(fake: FakeTelegram, server: FakeTelegramServer, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=fake.token,
        BOT_API_BASE_URL=server.base_url,
        DATABASE_URL=url,
        # Required on Telegram; a benchmark's pretend residents need no lasting one.
        SAFEGUARDING_SECRET=secrets.token_hex(32),
        DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
        DELIVERY_MAX_IN_FLIGHT=str(IN_FLIGHT),
        BROADCAST_RELEASE_SECONDS="0.5",
        # A benchmark measures sending, whatever the hour it runs at: no quiet hours (start == end).
        QUIET_HOURS_START="0",
        QUIET_HOURS_END="0",
        PYTHONUNBUFFERED="1",
        # The bare sender and the profiler wrapper live in bench/, which is not installed.
        PYTHONPATH=str(ROOT),
    )
    return env


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def _left(engine: AsyncEngine) -> int:
    async with create_sessionmaker(engine)() as session:
        count = await session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING))
            )
        )
    return int(count or 0)


async def _failed(engine: AsyncEngine) -> int:
    async with create_sessionmaker(engine)() as session:
        count = await session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.status.in_((DeliveryStatus.FAILED, DeliveryStatus.SKIPPED))
            )
        )
    return int(count or 0)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


class BotProcess:
    """One `bumpbuddies run` child; its output goes to a log file, never to the terminal."""

    def __init__(
        self, env: dict[str, str], folder: Path, name: str, command: list[str] | None = None
    ) -> None:
        self.env = env
        self.folder = folder
        self.log = folder / f"{name}.log"
        self.command = command or ["-m", "bot", "run"]
        self.process: subprocess.Popen[bytes] | None = None
        self.cpu = 0.0

    def start(self) -> None:
        with self.log.open("ab") as log:
            profile = os.environ.get("BENCH_PROFILE_DIR")
            # BENCH_PROFILE_DIR=folder profiles the process on CPU time (bench/profiled.py): a
            # wall-clock profile charges a loopback send with the fake's turn on the CPU.
            out = f"{profile}/{self.log.stem}.prof"
            wrapper = ["-m", "bench.profiled", out] if profile else []
            self.process = subprocess.Popen(
                [sys.executable, *wrapper, *self.command],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def sample_cpu(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.cpu = max(self.cpu, _cpu_seconds(self.process.pid))

    async def _exit(self, seconds: float) -> bool:
        # Waiting must not block the event loop: it serves the fake the bot is talking to.
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while self.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self.process.poll() is not None

    async def kill(self) -> float:
        assert self.process is not None
        self.sample_cpu()
        self.process.send_signal(signal.SIGKILL)
        await self._exit(10)
        return self.cpu

    async def stop(self) -> float:
        assert self.process is not None
        self.sample_cpu()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            if not await self._exit(30):
                self.process.kill()
                await self._exit(10)
        return self.cpu


async def run_scenario(
    name: str,
    count: int,
    folder: Path,
    *,
    paid: bool = False,
    kill_at: float | None = None,
    after: asyncio.Event | None = None,
    done: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> Outcome:
    """Send one broadcast to `count` residents through a real bot process; measure it.

    The bot starts at once and `ready` is set once it polls for updates (started up); the
    broadcast is scheduled when `after` is set (so a scenario can start up while another is
    still measuring), and `done` is set when every message is out.
    """
    flood = FloodControl(overall_per_second=CEILING, paid_per_second=PAID_CEILING)
    fake = FakeTelegram(flood=flood)
    url = f"sqlite+aiosqlite:///{folder / (name + '.sqlite3')}"
    residents, staff_id = await _seed(url, fake, count)
    watch = Watch(fake, residents)
    outcome = Outcome(recipients=count)
    engine = create_engine(url)
    started = time.monotonic()
    async with FakeTelegramServer(fake) as server:
        env = _bot_env(fake, server, url)
        bot = BotProcess(env, folder, name)
        bot.start()
        if ready is not None:
            await _until_polling(fake)
            ready.set()
        if after is not None:
            await after.wait()
        await _schedule(engine, staff_id, paid)
        # CPU and time from here on: the bot's start-up (imports, migrations) is not counted.
        started = time.monotonic()
        load_before = _load()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        bot.sample_cpu()
        startup_cpu = bot.cpu
        deadline = started + START_TIMEOUT + count / (PAID_CEILING if paid else CEILING) * 3
        bot_cpu = 0.0
        killed = False
        last_check = 0.0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            bot.sample_cpu()
            if kill_at is not None and not killed and watch.accepted >= count * kill_at:
                bot_cpu += await bot.kill()
                outcome.killed_after = watch.accepted
                killed = True
                bot = BotProcess(env, folder, name + "-restarted")
                bot.start()
            now = time.monotonic()
            if watch.accepted >= count and now - last_check > 0.2:
                last_check = now
                if await _left(engine) == 0:
                    break
        else:
            outcome.notes.append("timed out before every row was settled")
        if done is not None:
            done.set()
        bot_cpu += await bot.stop() - (startup_cpu if outcome.killed_after is None else 0.0)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    outcome.load_average = (load_before, _load())
    outcome.wall_seconds = time.monotonic() - started
    outcome.bot_cpu_seconds = round(bot_cpu, 2)
    outcome.fake_cpu_seconds = _cpu_since(cpu_before, cpu_after)
    _count(outcome, watch, residents, flood)
    outcome.rows_left = await _left(engine)
    outcome.failed_rows = await _failed(engine)
    await engine.dispose()
    return outcome


async def _until_polling(fake: FakeTelegram) -> None:
    """Wait until the bot asks for updates: its start-up (imports, migrations) is over."""
    deadline = time.monotonic() + START_TIMEOUT
    while not fake.calls_to("getUpdates") and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _cpu_since(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    """CPU seconds of this process (the fake's side) between two samples."""
    return round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2)


def _count(outcome: Outcome, watch: Watch, residents: set[int], flood: FloodControl) -> None:
    outcome.accepted = watch.accepted
    outcome.duplicates = sum(n - 1 for n in watch.per_chat.values() if n > 1)
    outcome.lost = len(residents - set(watch.per_chat))
    outcome.refused_429 = flood.refused
    if watch.times:
        outcome.first_send, outcome.last_send = watch.times[0], watch.times[-1]


async def run_bare(
    name: str,
    count: int,
    folder: Path,
    *,
    after: Callable[[], Awaitable[Any]],
    done: asyncio.Event | None = None,
) -> Outcome:
    """The bare sender (bench/bare_sender.py) to `count` chats of a fake like paid's; measure it.

    It starts once `after()` returns.
    """
    await after()
    flood = FloodControl(overall_per_second=CEILING, paid_per_second=PAID_CEILING)
    fake = FakeTelegram(flood=flood)
    residents = [fake.new_user(f"Mum {n}", started=True).id for n in range(count)]
    chats = folder / f"{name}-chats.json"
    chats.write_text(json.dumps(residents), encoding="utf-8")
    watch = Watch(fake, set(residents))
    outcome = Outcome(recipients=count)
    async with FakeTelegramServer(fake) as server:
        env = _bot_env(fake, server, "sqlite+aiosqlite://")
        command = ["-m", "bench.bare_sender", str(chats), str(IN_FLIGHT)]
        sender = BotProcess(env, folder, name, command)
        started = time.monotonic()
        load_before = _load()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        sender.start()
        deadline = started + START_TIMEOUT + count / PAID_CEILING * 3
        assert sender.process is not None
        while sender.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            sender.sample_cpu()
        if sender.process.poll() is None:
            outcome.notes.append("timed out before every message was posted")
        outcome.bot_cpu_seconds = round(await sender.stop(), 2)
        if sender.process.returncode:
            outcome.notes.append(f"exited with {sender.process.returncode}")
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    outcome.load_average = (load_before, _load())
    outcome.wall_seconds = time.monotonic() - started
    outcome.fake_cpu_seconds = _cpu_since(cpu_before, cpu_after)
    _count(outcome, watch, set(residents), flood)
    if done is not None:
        done.set()
    return outcome


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
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def _summary(outcome: Outcome) -> dict[str, Any]:
    per_message = max(outcome.accepted, 1) / 1000
    return {
        "recipients": outcome.recipients,
        "accepted": outcome.accepted,
        "messages_per_second": round(outcome.rate, 2),
        "duplicates": outcome.duplicates,
        "lost": outcome.lost,
        "refused_429": outcome.refused_429,
        "wall_seconds": round(outcome.wall_seconds, 1),
        "bot_cpu_seconds": outcome.bot_cpu_seconds,
        "fake_cpu_seconds": outcome.fake_cpu_seconds,
        "bot_cpu_ms_per_message": round(outcome.bot_cpu_seconds / per_message, 3),
        "fake_cpu_ms_per_message": round(outcome.fake_cpu_seconds / per_message, 3),
        "killed_after": outcome.killed_after,
        "rows_left": outcome.rows_left,
        "failed_or_skipped_rows": outcome.failed_rows,
        "load_average_1min": {"start": outcome.load_average[0], "end": outcome.load_average[1]},
        "notes": outcome.notes,
    }


def _time_split(outcome: Outcome) -> dict[str, float]:
    wall = max(outcome.wall_seconds, 1e-9)
    return {
        "sending_seconds": round(outcome.last_send - outcome.first_send, 2),
        "sender_process_cpu_share": round(outcome.bot_cpu_seconds / wall, 2),
        "fake_api_cpu_share": round(outcome.fake_cpu_seconds / wall, 2),
    }


async def _free_scenarios(count: int, folder: Path, done: asyncio.Event) -> list[Outcome]:
    """Ceiling and resume side by side; `done` is set once both have sent everything."""
    first, second = asyncio.Event(), asyncio.Event()

    async def when_both() -> None:
        await first.wait()
        await second.wait()
        done.set()

    ceiling, resume, _ = await asyncio.gather(
        run_scenario("ceiling", count, folder, done=first),
        run_scenario("resume", count, folder, kill_at=0.5, done=second),
        when_both(),
    )
    return [ceiling, resume]


async def run(count: int, *, paid_only: bool = False) -> dict[str, Any]:
    """Every scenario (or bare, paid, bare); returns the results document."""
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
        folder = Path(tmp)
        free_done, paid_ready = asyncio.Event(), asyncio.Event()
        bare_done, paid_done = asyncio.Event(), asyncio.Event()
        if paid_only:
            free_done.set()

        async def quiet() -> None:
            # The bare run starts once the paid bot has started up and the others are done.
            await free_done.wait()
            await paid_ready.wait()

        # The paid bot starts up alongside, and only begins once the bare run before it is done.
        free, bare_before, paid, bare_after = await asyncio.gather(
            _free_scenarios(count, folder, free_done) if not paid_only else asyncio.sleep(0, []),
            run_bare("bare-before", count, folder, after=quiet, done=bare_done),
            run_scenario(
                "paid", count, folder, paid=True, after=bare_done, done=paid_done, ready=paid_ready
            ),
            run_bare("bare-after", count, folder, after=paid_done.wait),
        )
    load_at_end = os.getloadavg()
    bare_rate = (bare_before.rate + bare_after.rate) / 2
    metrics: dict[str, Any] = {}
    scenarios: dict[str, Any] = {}
    if free:
        ceiling, resume = free
        metrics |= {
            "ceiling_ratio": round(ceiling.rate / CEILING, 4),
            "duplicates": ceiling.duplicates,
            "lost": ceiling.lost,
            "resume_duplicates": resume.duplicates,
            "resume_lost": resume.lost,
        }
        scenarios |= {"ceiling": _summary(ceiling), "resume": _summary(resume)}
    metrics |= {
        "paid_mode_msgs_per_s": round(paid.rate, 1),
        "bare_sender_msgs_per_s": round(bare_rate, 1),
        "paid_ratio_vs_bare": round(paid.rate / bare_rate, 3) if bare_rate else None,
    }
    scenarios |= {
        "bare_before_paid": _summary(bare_before),
        "paid": _summary(paid),
        "bare_after_paid": _summary(bare_after),
    }
    return {
        "benchmark": "broadcast",
        "commit": _commit(),
        "machine": _machine(),
        "load_average": {
            "at_start_1_5_15min": [round(x, 2) for x in load_at_start],
            "at_end_1_5_15min": [round(x, 2) for x in load_at_end],
        },
        "recipients": count,
        "metrics": metrics,
        "scenarios": scenarios,
        "paid_time_split": _time_split(paid),
        "bare_time_split": _time_split(bare_after),
        "settings": {
            "ceiling_per_second": CEILING,
            "paid_ceiling_per_second": PAID_CEILING,
            "lease_seconds": LEASE_SECONDS,
            "database": "SQLite (a file per scenario)",
            "transport": "HTTP/1.1 on 127.0.0.1 (bot/delivery/http.py JsonPoster in the bot and "
            "the bare sender, tornado in the fake)",
            "connections_and_requests_in_flight": {
                "bot": f"{IN_FLIGHT} keep-alive connections, at most {IN_FLIGHT} requests in "
                f"flight (DELIVERY_MAX_IN_FLIGHT) and at most {4 * IN_FLIGHT} sent but not yet "
                "recorded",
                "bare_sender": f"{IN_FLIGHT} keep-alive connections, one request in flight on "
                f"each ({IN_FLIGHT} in all)",
            },
            "bare_sender": "bench/bare_sender.py: one loop per connection posting sendMessage "
            "(JSON, allow_paid_broadcast) to the next chat; no database, pacing, retries or "
            "parsing; its own process, like the bot; its CPU includes its start-up",
        },
    }


def main() -> None:
    """`python -m bench.broadcast [--quick]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 recipients (under a minute)")
    parser.add_argument("--recipients", type=int, help="override the number of recipients")
    parser.add_argument(
        "--paid-only", action="store_true", help="only bare, paid, bare (results not written)"
    )
    args = parser.parse_args()
    count = args.recipients or (1000 if args.quick else 10_000)
    results = asyncio.run(run(count, paid_only=args.paid_only))
    if args.paid_only:
        print(json.dumps(results, indent=2))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("broadcast-quick.json" if args.quick else "broadcast.json")
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["metrics"], indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
