"""The console's upkeep: the bot's heartbeat on the overview, and the hourly purge of sign-ins."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import EVERY_WORKER_JOBS
from bot.console import sessions
from bot.context import BotContext
from bot.handlers.console import HEARTBEAT_JOB, PURGE_JOB
from bot.sandbox.fake_api import FakeTelegram
from models import ConsoleLink, ConsoleSession, StaffRole
from tests.console_support import console_client, sign_in, staff_member
from tests.content_support import load_sample
from tests.harness import BotHarness


@pytest.fixture
async def web(bot: BotHarness) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client on the console, sharing the bot's database and clock."""
    async with console_client(bot) as client:
        yield client


async def run_job(bot: BotHarness, name: str) -> None:
    """What the JobQueue does when the job is due."""
    queue = bot.app.job_queue
    assert queue is not None
    (job,) = queue.get_jobs_by_name(name)
    await job.callback(BotContext.from_job(job, bot.app))


def health_of(page: httpx.Response) -> str:
    start = page.text.index('id="bot-health">')
    return page.text[start : page.text.index("</dd>", start)]


async def test_the_overview_says_whether_the_bot_is_running_from_its_heartbeat(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
    await sign_in(bot, web, midwife)
    assert "never reported in" in health_of(await web.get("/"))

    await run_job(bot, HEARTBEAT_JOB)
    bot.clock.advance(dt.timedelta(seconds=12))
    assert "Running</strong> (last seen 12 seconds ago)" in health_of(await web.get("/"))

    bot.clock.advance(dt.timedelta(minutes=5))
    assert "Not running</strong> (last seen 5 minutes ago)" in health_of(await web.get("/"))
    await run_job(bot, HEARTBEAT_JOB)
    assert "Running</strong> (last seen 0 seconds ago)" in health_of(await web.get("/"))


async def test_the_overview_says_whether_the_bot_uses_the_content_loaded_last(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)
    await run_job(bot, HEARTBEAT_JOB)
    assert "Not loaded" in (await web.get("/")).text
    assert bot.app.bot_data.sessionmaker is not None
    await load_sample(bot.app.bot_data.sessionmaker, bot.clock.now())
    assert "the bot picks it up within a minute" in (await web.get("/")).text
    await run_job(bot, "content_watch")
    await run_job(bot, HEARTBEAT_JOB)
    assert "the bot uses it" in (await web.get("/")).text


async def test_expired_sessions_codes_and_links_are_purged_by_the_hourly_leader_job(
    bot: BotHarness, fake: FakeTelegram, web: httpx.AsyncClient
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    await sign_in(bot, web, admin)  # a used link, an ended waiting session, a live session
    await bot.send(await staff_member(bot, fake, StaffRole.MIDWIFE), "/console")  # fresh link
    async with bot.session() as session, session.begin():
        await sessions.start_session(session, bot.clock.now())  # a desk showing its code

    async def left() -> tuple[int, int]:
        async with bot.session() as session:
            kept = await session.scalar(select(func.count(ConsoleSession.id)))
            links = await session.scalar(select(func.count(ConsoleLink.id)))
        return int(kept or 0), int(links or 0)

    before = await left()
    await run_job(bot, PURGE_JOB)
    # The used link and the session its click ended go; the live ones stay.
    assert await left() == (before[0] - 1, 1)
    bot.clock.advance(dt.timedelta(minutes=11))
    await run_job(bot, PURGE_JOB)
    assert await left() == (1, 0)  # the desk's code and the fresh link expired
    assert (await web.get("/")).status_code == 200  # she was active: her session lives on
    bot.clock.advance(sessions.IDLE_TIMEOUT)
    await run_job(bot, PURGE_JOB)
    assert await left() == (0, 0)


def test_the_console_jobs_run_on_the_leader_only(bot: BotHarness) -> None:
    queue = bot.app.job_queue
    assert queue is not None
    purge = queue.get_jobs_by_name(PURGE_JOB)[0]
    beat = queue.get_jobs_by_name(HEARTBEAT_JOB)[0]
    assert purge.job.trigger.interval == dt.timedelta(hours=1)
    assert beat.job.trigger.interval <= dt.timedelta(minutes=1)
    assert {PURGE_JOB, HEARTBEAT_JOB} & EVERY_WORKER_JOBS == set()
