"""Blocking the bot stops bulk messages at once; unblocking starts them again."""

from __future__ import annotations

from sqlalchemy import select
from telegram import Update

from bot.delivery import queue
from bot.delivery.queue import NewDelivery
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from models import Delivery, DeliveryStatus, Resident
from tests.factories import make_resident
from tests.harness import BotHarness


async def her_row(bot: BotHarness, user: FakeUser) -> Resident:
    async with bot.session() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == user.id)
        )
    assert resident is not None
    return resident


async def test_blocking_the_bot_skips_her_queued_messages_and_unblocking_brings_her_back(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.new_user("Amira", started=True)
    async with bot.session() as session, session.begin():
        resident = await make_resident(session, bot.clock.now(), telegram_user_id=user.id)
        await queue.enqueue(
            session,
            [NewDelivery(resident.id, "week:20", "daily", "scheduled", "Week 20", bot.clock.now())],
            bot.clock.now(),
        )

    await bot.app.process_update(Update.de_json(fake.block_bot(user), bot.app.bot))

    assert (await her_row(bot, user)).unreachable_since == bot.clock.now()
    async with bot.session() as session:
        assert await session.scalar(select(Delivery.status)) is DeliveryStatus.SKIPPED
    await bot.app.process_update(Update.de_json(fake.unblock_bot(user), bot.app.bot))
    assert (await her_row(bot, user)).unreachable_since is None
