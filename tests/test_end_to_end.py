"""The real `bumpbuddies run` process, driven over HTTP through the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Select, func, select
from sqlalchemy import text as sa_text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, create_sessionmaker
from bot.leader import LEAD_LOCK_KEY, Leadership
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.sandbox.fake_http import FakeTelegramServer
from models import Resident, ResidentStatus, UpdateInbox
from tests.database import postgres_url
from tests.harness import TEST_SAFEGUARDING_SECRET

STEP_TIMEOUT = 30.0
# Worker processes import the whole bot; on a busy 2-core machine that takes a while.
STARTUP_TIMEOUT = 120.0
WEBHOOK_SECRET = "webhook-secret-for-tests"
# SIGTERM: stop taking updates, finish what is in flight, exit 0 within this.
SHUTDOWN_LIMIT = 10.0


@pytest.fixture
async def server(fake: FakeTelegram) -> AsyncIterator[FakeTelegramServer]:
    """The fake Bot API served over HTTP on loopback."""
    served = FakeTelegramServer(fake)
    await served.start()
    yield served
    await served.stop()


class RunningBot:
    """A `bumpbuddies run` child process and the fake it talks to."""

    def __init__(self, fake: FakeTelegram, process: asyncio.subprocess.Process) -> None:
        self.fake = fake
        self.process = process

    async def say(self, user: FakeUser, text: str, expect: str) -> SentMessage:
        """She sends a message; wait for the bot's reply containing `expect`."""
        after = len(self.fake.messages(user.id))
        self.fake.send_message(user, text)
        return await self.fake.wait_for_message(
            user.id, contains=expect, after=after, timeout=STEP_TIMEOUT
        )

    async def press(self, user: FakeUser, button: str | int, expect: str) -> SentMessage:
        """She presses a button on the newest message that has buttons."""
        after = len(self.fake.messages(user.id))
        target = next(
            m
            for m in reversed(self.fake.messages(user.id))
            if m.reply_markup and m.reply_markup.get("inline_keyboard")
        )
        self.fake.press_button(user, target, button)
        return await self.fake.wait_for_message(
            user.id, contains=expect, after=after, timeout=STEP_TIMEOUT
        )


class BotProcesses:
    """Starts `bumpbuddies run` (or `serve`) against the HTTP fake, again and again."""

    def __init__(
        self, fake: FakeTelegram, env: dict[str, str], cwd: Path, arguments: tuple[str, ...]
    ) -> None:
        self.fake = fake
        self.arguments = arguments
        self.env = env
        self.cwd = cwd
        self.running: RunningBot | None = None

    async def start(self) -> RunningBot:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self.arguments,
            cwd=self.cwd,  # no developer .env is read
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.running = RunningBot(self.fake, process)
        return self.running

    async def stop(self, how: signal.Signals = signal.SIGTERM) -> str:
        """Stop the running process with `how`; returns what it printed."""
        assert self.running is not None
        process = self.running.process
        if process.returncode is None:
            process.send_signal(how)
            try:
                await asyncio.wait_for(process.wait(), STEP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        assert process.stdout is not None
        return (await process.stdout.read()).decode()

    async def restart(self, how: signal.Signals, engine: AsyncEngine) -> RunningBot:
        """Stop the process the way `how` does and start a new one in its place.

        A SIGKILL comes once the bot has finished the last update (its reply is sent moments
        before its conversation state is committed): killed in between, polling has already
        taken the update from Telegram, so that one update would be lost whatever we stored.
        """
        if how is signal.SIGKILL:
            await self.wait_until_handled(engine)
        output = await self.stop(how)
        if how is signal.SIGTERM:
            assert self.running is not None and self.running.process.returncode == 0, output
        return await self.start()

    async def wait_until_handled(self, engine: AsyncEngine) -> None:
        """Wait for the process to finish every update the fake has handed out."""
        last = self.fake._next_update_id - 1
        query = select(func.count()).where(
            UpdateInbox.update_id == last, UpdateInbox.handled_at.is_not(None)
        )
        async with asyncio.timeout(STEP_TIMEOUT):
            # Another process's progress: only the database can tell, so it is looked at.
            while not await _scalar(engine, query):  # noqa: ASYNC110
                await asyncio.sleep(0.02)


async def _scalar(engine: AsyncEngine, query: Select[Any]) -> int:
    async with create_sessionmaker(engine)() as session:
        return int(await session.scalar(query) or 0)


@asynccontextmanager
async def launched(
    fake: FakeTelegram,
    server: FakeTelegramServer,
    database_url: str,
    tmp_path: Path,
    *arguments: str,
    **settings: str,
) -> AsyncIterator[BotProcesses]:
    """A launcher of the real process against the HTTP fake; the last one is stopped afterwards."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "BOT_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=fake.token,
        BOT_API_BASE_URL=server.base_url,
        DATABASE_URL=database_url,
        SAFEGUARDING_SECRET=TEST_SAFEGUARDING_SECRET,
        PYTHONUNBUFFERED="1",
        **settings,
    )
    launcher = BotProcesses(fake, env, tmp_path, arguments)
    try:
        yield launcher
    finally:
        if launcher.running is not None:
            await launcher.stop()


@asynccontextmanager
async def started_bot(
    fake: FakeTelegram,
    server: FakeTelegramServer,
    database_url: str,
    tmp_path: Path,
    *arguments: str,
    **settings: str,
) -> AsyncIterator[RunningBot]:
    """Start the real process against the HTTP fake; stop it with SIGTERM afterwards."""
    async with launched(fake, server, database_url, tmp_path, *arguments, **settings) as launcher:
        yield await launcher.start()


@pytest.fixture
async def processes(
    fake: FakeTelegram, server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotProcesses]:
    """`bumpbuddies run` polling the HTTP fake, to be started and restarted by the test."""
    async with launched(fake, server, database_url, tmp_path, "run") as launcher:
        yield launcher


@pytest.fixture
async def running_bot(
    fake: FakeTelegram, server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    """`bumpbuddies run`, polling the HTTP fake."""
    async with started_bot(fake, server, database_url, tmp_path, "run") as bot:
        yield bot


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def webhook_bot(
    fake: FakeTelegram, server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    """`bumpbuddies run --webhook` with a path in the URL, as behind a reverse proxy."""
    # Telegram insists on https; the fake lets a test use plain http on loopback.
    fake.allow_http_loopback_webhook = True
    port = free_port()
    async with started_bot(
        fake,
        server,
        database_url,
        tmp_path,
        "run",
        "--webhook",
        f"http://127.0.0.1:{port}/telegram/updates",
        WEBHOOK_SECRET_TOKEN=WEBHOOK_SECRET,
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port),
    ) as bot:
        yield bot


async def sign_up_end_to_end(
    running_bot: RunningBot, fake: FakeTelegram, engine: AsyncEngine
) -> None:
    user = fake.new_user("Harriet", username="harriet_e2e")

    await running_bot.say(user, "/start", expect="Are you happy for us to keep these details?")
    await running_bot.press(user, "Yes, I agree", expect="Meeting other mums-to-be")
    await running_bot.press(user, "Yes please", expect="Local information")
    await running_bot.press(user, "No thanks", expect="Feedback")
    await running_bot.press(user, "Yes please", expect="When is your baby due?")
    await running_bot.say(user, "20 weeks", expect="Is that right?")
    await running_bot.press(user, "Yes, that's right", expect="Which neighbourhood")
    await running_bot.say(user, "CO1 1AA", expect="What name would you like")
    await running_bot.press(user, 0, expect="Here's what you've told me")
    await running_bot.press(user, "✅ That's right", expect="You're all set, Harriet")
    export = await running_bot.say(user, "/mydata", expect="Here's a copy of everything")
    assert export.document is not None and b"Harriet" in export.document[1]

    running_bot.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(running_bot.process.wait(), SHUTDOWN_LIMIT) == 0
    assert running_bot.process.stdout is not None
    output = (await running_bot.process.stdout.read()).decode()
    for secret in (fake.token, "Harriet", "harriet_e2e", "CO1 1AA", str(user.id)):
        assert secret not in output
    assert fake.violations == []
    async with create_sessionmaker(engine)() as session:
        resident = await session.scalar(select(Resident))
    assert resident is not None and resident.status is ResidentStatus.ACTIVE
    assert resident.district_code == "E07000071"


# Each step of sign-up: what she types (or presses) after a restart, and how the bot answers.
# Typed yes/no and a bare number of weeks are understood as the buttons and "20 weeks" are.
SIGN_UP_AFTER_RESTARTS = [
    ("Yes", "Meeting other mums-to-be"),
    ("yes please", "Local information"),
    ("No thanks", "Feedback"),
    ("Y", "When is your baby due?"),
    ("20", "Is that right?"),
    ("YES", "Which neighbourhood"),
    ("CO1 1AA", "What name would you like"),
    ("Harriet", "Here's what you've told me"),
]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_a_restart_at_every_sign_up_step_loses_nothing(
    processes: BotProcesses, fake: FakeTelegram, engine: AsyncEngine, how: signal.Signals
) -> None:
    user = fake.new_user("Harriet", username="harriet_restarts")
    bot = await processes.start()
    await bot.say(user, "/start", expect="Are you happy for us to keep these details?")

    for typed, expect in SIGN_UP_AFTER_RESTARTS:
        # The question was sent; the process goes away and a new one takes her answer.
        bot = await processes.restart(how, engine)
        await bot.say(user, typed, expect=expect)
    bot = await processes.restart(how, engine)
    await bot.press(user, "✅ That's right", expect="You're all set, Harriet")

    assert fake.violations == []
    async with create_sessionmaker(engine)() as session:
        resident = await session.scalar(select(Resident))
    assert resident is not None and resident.status is ResidentStatus.ACTIVE
    assert resident.display_name == "Harriet" and resident.district_code == "E07000071"
    # Every update was answered exactly once: no answer repeated after a restart.
    texts = [m.plain_text for m in fake.messages(user.id)]
    assert sum("Which neighbourhood" in t for t in texts) == 1


async def test_real_process_signs_a_resident_up_over_http(
    running_bot: RunningBot, fake: FakeTelegram, engine: AsyncEngine
) -> None:
    await sign_up_end_to_end(running_bot, fake, engine)


async def test_real_process_signs_a_resident_up_through_a_webhook_with_a_path(
    webhook_bot: RunningBot, fake: FakeTelegram, engine: AsyncEngine
) -> None:
    await sign_up_end_to_end(webhook_bot, fake, engine)

    assert fake.webhook["url"].endswith("/telegram/updates")
    assert fake.webhook["secret_token"] == WEBHOOK_SECRET
    # No push was answered with an error, as with a 404 on the wrong path (None: the process
    # was still starting and nothing listened yet).
    assert fake.webhook_attempts
    assert {attempt.status for attempt in fake.webhook_attempts} <= {200, None}


@pytest.fixture
async def served_bot(
    request: pytest.FixtureRequest,
    fake: FakeTelegram,
    server: FakeTelegramServer,
    database_url: str,
    tmp_path: Path,
) -> AsyncIterator[RunningBot]:
    """`bumpbuddies serve --workers N` (N from the test's parameter) behind one URL."""
    workers = int(request.param)
    fake.allow_http_loopback_webhook = True
    # Pushes refused while the workers start are retried every second, not after minutes.
    fake.webhook_max_retry = 1.0
    port = free_port()
    async with started_bot(
        fake,
        server,
        database_url,
        tmp_path,
        "serve",
        "--workers",
        str(workers),
        "--webhook",
        f"http://127.0.0.1:{port}/telegram/updates",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        WEBHOOK_SECRET_TOKEN=WEBHOOK_SECRET,
    ) as bot:
        # Each worker sets the commands once its Application has started (post_init).
        await fake.wait_for(
            lambda: len(fake.calls_to("setMyCommands")) >= workers,
            STARTUP_TIMEOUT,
            description=f"{workers} workers to start",
        )
        yield bot


@pytest.mark.parametrize(
    "served_bot",
    [
        1,
        pytest.param(
            2,
            marks=[
                pytest.mark.skipif(postgres_url() is None, reason="two workers need PostgreSQL"),
            ],
        ),
    ],
    indirect=True,
)
async def test_served_workers_sign_a_resident_up_through_the_webhook(
    served_bot: RunningBot, fake: FakeTelegram, engine: AsyncEngine
) -> None:
    await sign_up_end_to_end(served_bot, fake, engine)

    assert fake.webhook["url"].endswith("/telegram/updates")
    assert fake.webhook_attempts
    assert all(attempt.status in (None, 200) for attempt in fake.webhook_attempts)


async def test_serve_refuses_more_than_one_worker_on_sqlite(tmp_path: Path) -> None:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "BOT_"))
    }
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--workers",
        "2",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), STEP_TIMEOUT)

    assert process.returncode == 2
    assert out == b""
    assert err.decode().splitlines() == [
        "Not started: 2 workers need PostgreSQL (DATABASE_URL); SQLite serves one process "
        "only, so use --workers 1."
    ]


@pytest.mark.skipif(postgres_url() is None, reason="two workers need PostgreSQL")
@pytest.mark.parametrize("served_bot", [2], indirect=True)
async def test_two_served_workers_share_one_lead_and_stop_cleanly_on_sigterm(
    served_bot: RunningBot, fake: FakeTelegram, owner_database_url: str
) -> None:
    # An answer means a worker serves; workers settle the lead at start-up, before serving.
    await served_bot.say(fake.new_user("Ann"), "/help", expect="")
    url = httpx.URL(fake.webhook["url"])
    async with httpx.AsyncClient(base_url=f"http://{url.host}:{url.port}") as client:
        health = await client.get("/healthz")
        text = (await client.get("/metrics")).text

    assert health.status_code == 200
    # Both workers' samples, added up: exactly one of them leads.
    assert "bumpbuddies_leading 1.0" in text

    served_bot.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(served_bot.process.wait(), SHUTDOWN_LIMIT) == 0
    # The lead was released with the workers: nobody holds it any more.
    owner = create_engine(owner_database_url)
    try:
        async with owner.connect() as connection:
            held = await connection.scalar(
                sa_text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                    # pg_locks covers the whole cluster: other databases' bots hold their own.
                    "AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"k": LEAD_LOCK_KEY},
            )
    finally:
        await owner.dispose()
    assert held == 0


async def until(condition: Callable[[], Awaitable[bool]], description: str) -> None:
    """Wait for another process to reach a state only it can tell (no timer in the test's logic)."""
    async with asyncio.timeout(STEP_TIMEOUT):
        # `description` says what was awaited when this times out.
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def refuses_connections(port: int) -> bool:
    """Whether nothing listens on the port any more (the process stopped taking updates)."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return False


async def never(seconds: float) -> None:
    """A check interval that never ends: only an announced release can make it lead."""
    await asyncio.Event().wait()


STOP_MODES = ["polling", "webhook", "serve"]


@pytest.mark.skipif(postgres_url() is None, reason="another worker takes the lead on PostgreSQL")
@pytest.mark.parametrize("mode", STOP_MODES)
async def test_sigterm_answers_the_update_in_flight_exits_0_and_hands_the_lead_on_at_once(
    mode: str,
    fake: FakeTelegram,
    server: FakeTelegramServer,
    database_url: str,
    tmp_path: Path,
    engine: AsyncEngine,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/updates"
    fake.allow_http_loopback_webhook = True
    fake.webhook_max_retry = 1.0
    arguments: dict[str, tuple[str, ...]] = {
        "polling": ("run",),
        "webhook": ("run", "--webhook", url),
        "serve": ("serve", "--webhook", url, "--host", "127.0.0.1", "--port", str(port)),
    }
    settings = {"QUIET_HOURS_START": "0", "QUIET_HOURS_END": "0"}
    if mode != "polling":
        settings |= {
            "WEBHOOK_SECRET_TOKEN": WEBHOOK_SECRET,
            "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
        }
    taken_over = asyncio.Event()

    async def lead() -> None:
        taken_over.set()

    follower = Leadership(engine, on_lead=lead, sleep=never)
    async with started_bot(
        fake, server, database_url, tmp_path, *arguments[mode], **settings
    ) as bot:
        # An answer means it serves, and it has settled the lead (start-up, before serving).
        await bot.say(fake.new_user("Ann"), "/help", expect="")
        await follower.start()
        assert not follower.leading
        held = fake.hold_next("sendMessage")
        beth = fake.new_user("Beth")
        fake.send_message(beth, "/help")
        await asyncio.wait_for(held.arrived.wait(), STEP_TIMEOUT)

        bot.process.send_signal(signal.SIGTERM)
        stopped_at = asyncio.get_running_loop().time()
        if mode == "polling":
            await until(_async(lambda: not fake.long_polling), "polling to stop")
        else:
            await until(lambda: refuses_connections(port), "the webhook to stop listening")
        held.release()
        code = await asyncio.wait_for(bot.process.wait(), SHUTDOWN_LIMIT)
        exited_at = asyncio.get_running_loop().time()
        await asyncio.wait_for(taken_over.wait(), STEP_TIMEOUT)

    try:
        assert code == 0
        assert exited_at - stopped_at <= SHUTDOWN_LIMIT
        # Her update was in flight when the signal came: it was answered.
        answers = [m.plain_text for m in fake.messages(beth.id)]
        assert answers and "Here's what I can do" in answers[-1]
        # Released and announced, not expired: the follower checks only when told.
        assert follower.leading
        assert fake.violations == []
    finally:
        await follower.stop()


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def checked() -> bool:
        return check()

    return checked
