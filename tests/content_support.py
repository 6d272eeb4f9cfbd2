"""Helpers for the local-information tests: the sample content, loaded; planning; the queue."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.handlers.local_info import jobs
from bot.services.local_info.content import ContentSet, store_content
from bot.services.local_info.content_files import read_content
from bot.services.local_info.planning import PlanResult, plan_day
from bot.services.places.geo import default_gazetteer
from models import Delivery, DeliveryStatus
from tests.harness import BotHarness

Sessions = async_sessionmaker[AsyncSession]
LONDON = ZoneInfo("Europe/London")
SAMPLE_FOLDER = Path(__file__).resolve().parents[1] / "content"
CHELMSFORD_TRIAGE = "Broomfield Hospital maternity triage"


@functools.cache
def sample_content() -> ContentSet:
    """The shipped Essex sample set, checked."""
    return read_content(SAMPLE_FOLDER, default_gazetteer())


async def load_sample(sessions: Sessions, now: dt.datetime) -> None:
    """Load the sample set into the database, as `bumpbuddies content load` does."""
    async with sessions() as session, session.begin():
        await store_content(session, sample_content(), default_gazetteer(), now)


async def load_sample_into_bot(bot: BotHarness) -> None:
    """Load the sample set into a running bot's database and let the bot read it."""
    maker = bot.app.bot_data.sessionmaker
    assert maker is not None
    await load_sample(maker, bot.clock.now())
    await jobs.refresh_content(bot.app)


async def plan(sessions: Sessions, now: dt.datetime) -> PlanResult:
    """One daily planning run, in one unit of work."""
    async with sessions() as session, session.begin():
        return await plan_day(session, now, LONDON)


async def queued(
    sessions: Sessions, resident_id: int | None = None, *, status: DeliveryStatus | None = None
) -> list[str]:
    """Content keys in the delivery queue (optionally hers, optionally in one state), in order."""
    statement = select(Delivery.content_key).order_by(Delivery.id)
    if resident_id is not None:
        statement = statement.where(Delivery.resident_id == resident_id)
    if status is not None:
        statement = statement.where(Delivery.status == status)
    async with sessions() as session:
        return list(await session.scalars(statement))


async def deliveries(sessions: Sessions, resident_id: int) -> list[Delivery]:
    """Her rows in the delivery queue, oldest first."""
    async with sessions() as session:
        result = await session.scalars(
            select(Delivery).where(Delivery.resident_id == resident_id).order_by(Delivery.id)
        )
        return list(result)


def due_for_week(today: dt.date, week: int, day: int = 0) -> dt.date:
    """The due date of someone who is `week`+`day` pregnant today."""
    return today + dt.timedelta(days=280 - week * 7 - day)


def at_local(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A UK local time as an aware datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=LONDON)
