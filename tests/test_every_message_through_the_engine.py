"""Every message a resident did not just ask for goes through the one delivery engine.

So each kind obeys the quiet hours configured in the settings (here 12:00 to 14:00, so that the
usual 21:00 to 08:00 would give a different answer), and each marks a resident who blocked the
bot as unreachable.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.context import BotContext
from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from models import Delivery, Resident
from tests.content_support import load_sample_into_bot
from tests.harness import BotHarness
from tests.test_broadcast import broadcaster, compose, send_now
from tests.test_broadcast import residents as broadcast_audience
from tests.test_matching_support import (
    card_for,
    join,
    knows_contact_of,
    requests,
    run_matching_job,
)
from tests.test_staff_moderation import moderator, reported_pair

# November: UK time is UTC. A Monday.
MONDAY = dt.date(2026, 11, 30)
QUIET_START, QUIET_END = 12, 14


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
async def quiet_bot(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> AsyncIterator[BotHarness]:
    """The bot with quiet hours from noon to two in the afternoon."""
    async with BotHarness.start(
        fake, database_url, clock, quiet_hours_start=QUIET_START, quiet_hours_end=QUIET_END
    ) as harness:
        yield harness
    assert fake.violations == []


async def _send_queued(bot: BotHarness) -> None:
    engine = bot.app.bot_data.delivery
    assert engine is not None
    await engine.run_until_idle()


async def _run_feedback_job(bot: BotHarness) -> None:
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name("feedback_prompts")
    await job.callback(BotContext.from_job(job, bot.app))
    await _send_queued(bot)


def _news(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.messages(user) if "near you</b>" in (m.text or "")]


def _questions(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.messages(user) if "two weeks now" in m.plain_text]


async def test_newcomer_digests_follow_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(quiet_bot, fake, "Bea")
    quiet_bot.clock.set(_at(MONDAY, 12, 30))
    await join(quiet_bot, fake, "Amira")

    await run_matching_job(quiet_bot)
    await _send_queued(quiet_bot)
    assert _news(fake, bea) == []

    # Night by the usual hours, but not by these.
    quiet_bot.clock.set(_at(MONDAY, 21, 30))
    await run_matching_job(quiet_bot)
    await _send_queued(quiet_bot)
    assert len(_news(fake, bea)) == 1


async def test_feedback_questions_follow_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(quiet_bot, fake, "Bea")
    quiet_bot.clock.set(_at(MONDAY + dt.timedelta(days=14), 12, 30))

    await _run_feedback_job(quiet_bot)
    assert _questions(fake, user) == []

    quiet_bot.clock.set(_at(MONDAY + dt.timedelta(days=14), 21, 30))
    await _run_feedback_job(quiet_bot)
    assert len(_questions(fake, user)) == 1


async def _unreachable_since(bot: BotHarness, user: FakeUser) -> dt.datetime | None:
    async with bot.session() as session:
        return await session.scalar(
            select(Resident.unreachable_since).where(Resident.telegram_user_id == user.id)
        )


async def _warn(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    """A moderator warns a resident about a report."""
    mo = await moderator(bot, fake)
    reported, _, _ = await reported_pair(bot, fake)
    await bot.send(mo, "/moderation")
    await bot.press(mo, "Warn")
    return reported


def _notices(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.messages(user) if "friendly, respectful support" in m.plain_text]


async def test_moderation_notices_follow_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    # A notice waits three days after the report (so it can't point at who reported her); the
    # report was made on Friday at 12:30, so it is due on Monday at 12:30, in quiet hours.
    quiet_bot.clock.set(_at(MONDAY - dt.timedelta(days=3), 12, 30))
    reported = await _warn(quiet_bot, fake)
    assert _notices(fake, reported) == []

    quiet_bot.clock.set(_at(MONDAY, 12, 30))
    await _send_queued(quiet_bot)
    assert _notices(fake, reported) == []

    quiet_bot.clock.set(_at(MONDAY, 14))
    await _send_queued(quiet_bot)
    assert len(_notices(fake, reported)) == 1


async def test_a_moderation_notice_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    mo = await moderator(bot, fake)
    reported, _, _ = await reported_pair(bot, fake)
    fake.block_bot(reported)
    await bot.send(mo, "/moderation")

    await bot.press(mo, "Warn")
    bot.clock.advance(dt.timedelta(days=3, hours=1))
    await _send_queued(bot)

    assert await _unreachable_since(bot, reported) is not None


async def _queue_feedback_questions(bot: BotHarness) -> None:
    """The hourly job alone: questions are queued, and the engine has not run yet."""
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name("feedback_prompts")
    await job.callback(BotContext.from_job(job, bot.app))


async def test_a_feedback_question_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(bot, fake, "Bea")
    fake.block_bot(user)
    bot.clock.advance(dt.timedelta(days=14))

    await _run_feedback_job(bot)

    assert await _unreachable_since(bot, user) is not None


async def test_withdrawing_feedback_consent_cancels_a_queued_question(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(bot, fake, "Bea")
    bot.clock.advance(dt.timedelta(days=14))
    await _queue_feedback_questions(bot)
    bot.send_after_updates = False

    await bot.send(user, "/privacy")
    await bot.press(user, "Turn off: feedback questions")
    await _send_queued(bot)

    assert _questions(fake, user) == []


async def test_a_queued_feedback_question_keeps_its_rating_buttons(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(bot, fake, "Bea")
    bot.clock.advance(dt.timedelta(days=14))
    await _run_feedback_job(bot)
    [question] = _questions(fake, user)

    thanks = await bot.press(user, "4", message=question)

    assert "Thank you" in thanks[0].plain_text


async def _hello(bot: BotHarness, fake: FakeTelegram) -> tuple[FakeUser, FakeUser]:
    """Bea and Amira join; Amira says hello to Bea."""
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))
    return bea, amira


def _introduced(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.messages(user) if "are introduced" in m.plain_text]


async def test_a_request_to_say_hello_follows_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    quiet_bot.clock.set(_at(MONDAY, 12, 30))

    bea, _ = await _hello(quiet_bot, fake)
    assert requests(fake, bea) == []

    quiet_bot.clock.set(_at(MONDAY, 14))
    await _send_queued(quiet_bot)
    assert len(requests(fake, bea)) == 1


async def test_the_introduction_reaches_the_one_who_said_yes_at_once_the_other_after_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    bea, amira = await _hello(quiet_bot, fake)
    quiet_bot.clock.set(_at(MONDAY, 12, 30))

    await quiet_bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])

    assert len(_introduced(fake, bea)) == 1
    assert _introduced(fake, amira) == []
    quiet_bot.clock.set(_at(MONDAY, 14))
    await _send_queued(quiet_bot)
    assert len(_introduced(fake, amira)) == 1
    assert knows_contact_of(fake, amira, bea)


async def test_not_this_time_follows_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    bea, amira = await _hello(quiet_bot, fake)
    quiet_bot.clock.set(_at(MONDAY, 12, 30))

    await quiet_bot.press(bea, "No thanks", message=requests(fake, bea)[-1])
    await run_matching_job(quiet_bot)
    assert not any("didn't work out" in m.plain_text for m in fake.messages(amira))

    quiet_bot.clock.set(_at(MONDAY, 14))
    await run_matching_job(quiet_bot)
    assert "didn't work out" in quiet_bot.last(amira).plain_text


async def test_a_request_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    fake.block_bot(bea)

    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))

    assert await _unreachable_since(bot, bea) is not None


async def test_an_introduction_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea, amira = await _hello(bot, fake)
    fake.block_bot(amira)

    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])

    assert await _unreachable_since(bot, amira) is not None


async def test_not_this_time_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea, amira = await _hello(bot, fake)
    fake.block_bot(amira)

    await bot.press(bea, "No thanks", message=requests(fake, bea)[-1])
    await run_matching_job(bot)

    assert await _unreachable_since(bot, amira) is not None


async def test_a_newcomer_digest_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Amira")
    fake.block_bot(bea)

    await run_matching_job(bot)

    assert await _unreachable_since(bot, bea) is not None


async def test_withdrawing_matching_consent_cancels_a_queued_request_to_her(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    quiet_bot.clock.set(_at(MONDAY, 12, 30))
    bea, _ = await _hello(quiet_bot, fake)

    await quiet_bot.send(bea, "/privacy")
    await quiet_bot.press(bea, "Turn off: meeting other mums")
    quiet_bot.clock.set(_at(MONDAY, 14))
    await _send_queued(quiet_bot)

    assert requests(fake, bea) == []


async def test_forget_cancels_her_queued_request_and_keeps_no_copy_of_her_name(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    quiet_bot.clock.set(_at(MONDAY, 12, 30))
    bea, amira = await _hello(quiet_bot, fake)

    await quiet_bot.send(amira, "/forget")
    await quiet_bot.press(amira, "Yes, delete everything")
    quiet_bot.clock.set(_at(MONDAY, 14))
    await _send_queued(quiet_bot)

    assert requests(fake, bea) == []
    async with quiet_bot.session() as session:
        texts = list(await session.scalars(select(Delivery.text)))
    assert not any("Amira" in text for text in texts)


async def test_a_sent_request_is_taken_back_when_the_one_who_asked_leaves(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea, amira = await _hello(bot, fake)
    [request] = requests(fake, bea)

    await bot.send(amira, "/forget")
    await bot.press(amira, "Yes, delete everything")
    await run_matching_job(bot)

    assert request.plain_text == "This request is no longer open."


def _weekly(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.messages(user) if re.search(r"You're \d+ weeks pregnant", m.plain_text)]


async def test_scheduled_local_information_follows_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(quiet_bot, fake, "Bea")
    await load_sample_into_bot(quiet_bot)
    quiet_bot.clock.set(_at(MONDAY, 12, 30))

    await jobs.run_daily(quiet_bot.app)
    await _send_queued(quiet_bot)
    assert _weekly(fake, user) == []

    quiet_bot.clock.set(_at(MONDAY, 14))
    await _send_queued(quiet_bot)
    assert len(_weekly(fake, user)) == 1


async def test_scheduled_local_information_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(bot, fake, "Bea")
    await load_sample_into_bot(bot)
    fake.block_bot(user)

    await jobs.run_daily(bot.app)
    await _send_queued(bot)

    assert await _unreachable_since(bot, user) is not None


# A year after a 14 March 2027 due date, less a week: her retention notice is due.
NOTICE_DAY = dt.date(2028, 3, 7)


def _retention_notices(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.messages(user) if "we'll delete" in m.plain_text]


async def test_retention_notices_follow_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(quiet_bot, fake, "Bea")
    quiet_bot.clock.set(_at(NOTICE_DAY, 12, 30))

    await jobs.run_daily(quiet_bot.app)
    await _send_queued(quiet_bot)
    assert _retention_notices(fake, user) == []

    quiet_bot.clock.set(_at(NOTICE_DAY, 14))
    await _send_queued(quiet_bot)
    assert len(_retention_notices(fake, user)) == 1


async def test_a_retention_notice_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(bot, fake, "Bea")
    fake.block_bot(user)
    bot.clock.set(_at(NOTICE_DAY, 10))

    await jobs.run_daily(bot.app)
    await _send_queued(bot)

    assert await _unreachable_since(bot, user) is not None


async def test_broadcasts_follow_the_configured_quiet_hours(
    quiet_bot: BotHarness, fake: FakeTelegram
) -> None:
    quiet_bot.clock.set(_at(MONDAY, 12, 30))
    sender = await broadcaster(quiet_bot, fake)
    [mum] = await broadcast_audience(quiet_bot, fake, 1)
    await compose(quiet_bot, sender, "Snow: clinics open as usual")

    await quiet_bot.press(sender, "Send now")
    assert "it will start at 2pm" in quiet_bot.last_with_buttons(sender).plain_text
    await quiet_bot.press(sender, "Yes, confirm")
    await _send_queued(quiet_bot)
    assert fake.messages(mum) == []

    quiet_bot.clock.set(_at(MONDAY, 14))
    await _send_queued(quiet_bot)
    assert len(fake.messages(mum)) == 1


async def test_a_broadcast_to_someone_who_blocked_the_bot_marks_her_unreachable(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    [mum] = await broadcast_audience(bot, fake, 1)
    fake.block_bot(mum)
    await compose(bot, sender, "Snow: clinics open as usual")

    await send_now(bot, sender)
    await _send_queued(bot)

    assert await _unreachable_since(bot, mum) is not None


async def test_a_request_queued_when_the_bot_stopped_is_sent_after_the_restart(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    async with BotHarness.start(fake, database_url, clock) as bot:
        # The bot goes down before its engine sends anything.
        bot.send_after_updates = False
        bea, _ = await _hello(bot, fake)
        assert requests(fake, bea) == []

    async with BotHarness.start(fake, database_url, clock) as bot:
        await bot.send_queued()

    assert len(requests(fake, bea)) == 1
    assert fake.violations == []
