"""One worker leads the background work; when it dies, another takes over within one round."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FixedClock
from bot.context import BotContext
from bot.db import create_engine
from bot.handlers.local_info.jobs import CONTENT_WATCH_JOB
from bot.leader import LEAD_CHECK_SECONDS, LEAD_LOCK_KEY, Leadership
from bot.sandbox.fake_api import FakeTelegram
from tests.content_support import Sessions, load_sample
from tests.database import postgres_url
from tests.harness import BotHarness

# A safety net for waiting on another connection's news; nothing here waits on a timer.
STEP_TIMEOUT = 30.0

on_postgres = pytest.mark.skipif(
    postgres_url() is None, reason="workers take turns to lead on PostgreSQL only"
)


class Ticker:
    """An injected clock for the campaigns: time passes only when the test says so."""

    def __init__(self) -> None:
        self.asleep: list[asyncio.Future[None]] = []
        self.elapsed = 0.0
        self._changed = asyncio.Condition()

    async def sleep(self, seconds: float) -> None:
        assert seconds == LEAD_CHECK_SECONDS
        waiter = asyncio.get_running_loop().create_future()
        async with self._changed:
            self.asleep.append(waiter)
            self._changed.notify_all()
        await waiter

    async def until_asleep(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.asleep) >= count)

    async def tick(self) -> None:
        """One check interval passes: every campaign does one round and goes back to sleep."""
        # A stopped campaign's sleep was cancelled: it does not wake.
        waking = [waiter for waiter in self.asleep if not waiter.done()]
        self.asleep = []
        self.elapsed += LEAD_CHECK_SECONDS
        for waiter in waking:
            waiter.set_result(None)
        await self.until_asleep(len(waking))


class Worker:
    """A worker's leadership and a log of the duties it started and stopped."""

    def __init__(self, name: str, engine: AsyncEngine, ticker: Ticker, log: list[str]) -> None:
        self.led = asyncio.Event()

        async def lead() -> None:
            log.append(f"{name} leads")
            self.led.set()

        async def step_down() -> None:
            log.append(f"{name} steps down")

        self.engine = engine
        self.leadership = Leadership(
            engine, on_lead=lead, on_step_down=step_down, sleep=ticker.sleep
        )


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    made = [create_engine(database_url), create_engine(database_url)]
    yield made
    for engine in made:
        await engine.dispose()


async def kill_the_lock_holder(owner_database_url: str) -> int:
    """What a crash or a lost connection does: PostgreSQL ends the leader's session."""
    owner = create_engine(owner_database_url)
    try:
        async with owner.begin() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :key AND granted "
                    # pg_locks covers the whole cluster: other databases' bots hold their own.
                    "AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"key": LEAD_LOCK_KEY},
            )
    finally:
        await owner.dispose()
    return int(killed or 0)


@on_postgres
async def test_one_of_two_workers_leads(engines: list[AsyncEngine]) -> None:
    log: list[str] = []
    ticker = Ticker()
    first, second = (Worker(n, e, ticker, log) for n, e in zip("ab", engines, strict=True))

    await first.leadership.start()
    await second.leadership.start()
    await ticker.until_asleep(2)
    await ticker.tick()

    assert (first.leadership.leading, second.leadership.leading) == (True, False)
    assert log == ["a leads"]
    await first.leadership.stop()
    await second.leadership.stop()


@on_postgres
async def test_when_the_leader_dies_the_other_worker_takes_over_within_one_check(
    engines: list[AsyncEngine], owner_database_url: str
) -> None:
    log: list[str] = []
    ticker = Ticker()
    first, second = (Worker(n, e, ticker, log) for n, e in zip("ab", engines, strict=True))
    await first.leadership.start()
    await second.leadership.start()
    await ticker.until_asleep(2)

    assert await kill_the_lock_holder(owner_database_url) == 1
    await ticker.tick()

    assert second.leadership.leading
    assert not first.leadership.leading
    assert ticker.elapsed <= LEAD_CHECK_SECONDS
    assert log == ["a leads", "b leads", "a steps down"] or log == [
        "a leads",
        "a steps down",
        "b leads",
    ]
    # The old leader reconnects as a follower: it does not take the lead back.
    await ticker.tick()
    assert (first.leadership.leading, second.leadership.leading) == (False, True)
    await first.leadership.stop()
    await second.leadership.stop()


@on_postgres
async def test_a_worker_that_stops_hands_the_lead_on_at_once(
    engines: list[AsyncEngine],
) -> None:
    log: list[str] = []
    ticker = Ticker()
    first, second = (Worker(n, e, ticker, log) for n, e in zip("ab", engines, strict=True))
    await first.leadership.start()
    await second.leadership.start()
    await ticker.until_asleep(2)

    await first.leadership.stop()
    # No check interval passes: the release is announced, and the other worker takes it now.
    await asyncio.wait_for(second.led.wait(), STEP_TIMEOUT)

    assert second.leadership.leading
    assert ticker.elapsed == 0
    assert log == ["a leads", "a steps down", "b leads"]
    await second.leadership.stop()


async def test_on_sqlite_the_single_process_always_leads(tmp_path: object) -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    log: list[str] = []

    async def lead() -> None:
        log.append("leads")

    leadership = Leadership(engine, on_lead=lead)
    await leadership.start()
    await leadership.stop()
    await engine.dispose()

    assert log == ["leads"]


def job_runs(name: str) -> float:
    return REGISTRY.get_sample_value("bumpbuddies_jobs_run_total", {"job": name}) or 0.0


async def run_job(harness: BotHarness, name: str) -> None:
    """What the JobQueue does when the job is due, on this worker."""
    queue = harness.app.job_queue
    assert queue is not None
    (job,) = queue.get_jobs_by_name(name)
    await job.callback(BotContext.from_job(job, harness.app))


@on_postgres
async def test_background_jobs_run_on_the_leader_only_and_content_reaches_every_worker(
    fake: FakeTelegram, database_url: str, clock: FixedClock, sessions: Sessions
) -> None:
    async with (
        BotHarness.start(fake, database_url, clock) as first,
        BotHarness.start(fake, database_url, clock) as second,
    ):
        leaders = [h.app.bot_data.leader for h in (first, second)]
        assert [leader.leading for leader in leaders if leader] == [True, False]
        before = job_runs("feedback_prompts")

        await run_job(first, "feedback_prompts")
        await run_job(second, "feedback_prompts")

        assert job_runs("feedback_prompts") == before + 1
        # `bumpbuddies content load` while both run: the watch job runs on every worker.
        assert second.app.bot_data.content is None
        await load_sample(sessions, clock.now())
        await run_job(first, CONTENT_WATCH_JOB)
        await run_job(second, CONTENT_WATCH_JOB)
        for harness in (first, second):
            assert harness.app.bot_data.content is not None
            assert harness.app.bot_data.content_digest is not None
        queue = second.app.job_queue
        assert queue is not None
        (watch,) = queue.get_jobs_by_name(CONTENT_WATCH_JOB)
        assert watch.job.trigger.interval <= dt.timedelta(minutes=1)
