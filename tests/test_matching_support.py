"""Helpers shared by the matching tests (this module holds no tests itself)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import BotContext
from bot.handlers import matching as matching_handlers
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.services.matching.rules import MatchRules, WardNeighbours, ward_neighbours
from bot.services.places.geo import default_gazetteer
from models import MatchIntroduction, Resident
from tests.factories import CHELMSFORD_POSTCODE, make_resident, onboard
from tests.harness import BotHarness

Sessions = async_sessionmaker[AsyncSession]

RULES = MatchRules()
# Moulsham and Central (Chelmsford), and two of its neighbours within 3 km.
CENTRAL = "E05015473"
TRINITY = "E05004117"  # 1.18 km away
ST_ANDREWS = "E05004111"  # 2.84 km away
CHELMSFORD = "E07000070"
# Castle, in Colchester: far from Chelmsford.
CASTLE = "E05010828"
COLCHESTER = "E07000071"
DUE = dt.date(2027, 3, 14)

DISTRICT_OF = {CENTRAL: CHELMSFORD, TRINITY: CHELMSFORD, ST_ANDREWS: CHELMSFORD, CASTLE: COLCHESTER}


def neighbours(km: float = RULES.distance_km) -> WardNeighbours:
    """Ward neighbours from the shipped gazetteer."""
    return ward_neighbours(default_gazetteer(), km)


async def mum(
    sessions: Sessions,
    now: dt.datetime,
    *,
    ward: str = CENTRAL,
    due: dt.date = DUE,
    **fields: Any,
) -> Resident:
    """An active resident straight in the database (matching consent unless consents=False)."""
    async with sessions() as session, session.begin():
        return await make_resident(
            session, now, ward_code=ward, district_code=DISTRICT_OF[ward], due_date=due, **fields
        )


async def join(
    bot: BotHarness,
    fake: FakeTelegram,
    name: str,
    *,
    due: str = "14/03/2027",
    area: str = CHELMSFORD_POSTCODE,
    matching: bool = True,
    username: str | None = None,
) -> FakeUser:
    """Someone signs up through the real conversation, using `name` as her display name."""
    user = fake.new_user(name, username=username)
    await onboard(bot, user, optional=(matching, True, True), due=due, area=area, name=name)
    return user


def cards(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    """The suggestion cards she has been sent, oldest first."""
    return [m for m in fake.messages(user) if "👋 Say hello" in m.button_texts()]


def card_for(fake: FakeTelegram, user: FakeUser, name: str) -> SentMessage:
    """Her newest card showing `name`."""
    found = [m for m in cards(fake, user) if name in m.plain_text]
    assert found, f"no card for {name}"
    return found[-1]


def requests(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    """The 'would like to say hello' requests she has been sent."""
    return [m for m in fake.messages(user) if "would like to say hello" in m.plain_text]


def knows_contact_of(fake: FakeTelegram, viewer: FakeUser, other: FakeUser) -> bool:
    """Whether anything the bot sent `viewer` carries `other`'s Telegram id or username."""
    for message in fake.messages(viewer):
        raw = (message.text or "") + (message.caption or "")
        links = " ".join(str(e.get("url", "")) for e in message.entities)
        if str(other.id) in raw or str(other.id) in links:
            return True
        if other.username and other.username.lower() in (raw + message.plain_text).lower():
            return True
    return False


async def run_matching_job(bot: BotHarness) -> None:
    """What the JobQueue would run every few minutes, called directly."""
    await matching_handlers.matching_job(BotContext(bot.app))
    await bot.send_queued()


async def resident_of(bot: BotHarness, user: FakeUser) -> Resident:
    """Her row, fresh from the database."""
    async with bot.session() as session:
        found = await session.scalar(select(Resident).where(Resident.telegram_user_id == user.id))
    assert found is not None
    return found


async def introductions(bot: BotHarness) -> list[MatchIntroduction]:
    """Every introduction row, oldest first."""
    async with bot.session() as session:
        return list(await session.scalars(select(MatchIntroduction).order_by(MatchIntroduction.id)))
