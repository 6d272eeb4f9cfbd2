"""The daily job through the real bot: its time across clock changes, the missed run, delivery."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.clock import FixedClock
from bot.context import BotContext
from bot.delivery.engine import DeliveryReport
from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram
from bot.services.residents.consent import current_consents
from models import ConsentPurpose, PlanningRun, Resident
from tests.content_support import (
    Sessions,
    at_local,
    due_for_week,
    load_sample,
    load_sample_into_bot,
    queued,
)
from tests.factories import make_resident, new_resident_user, onboard
from tests.harness import BotHarness


def _next_runs(bot: BotHarness, after: dt.datetime, count: int) -> list[dt.datetime]:
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name(jobs.JOB_NAME)
    trigger = job.job.trigger
    found: list[dt.datetime] = []
    previous = None
    moment = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, moment)
        found.append(fire.astimezone(dt.UTC))
        previous, moment = fire, fire + dt.timedelta(seconds=1)
    return found


def _utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


async def test_the_daily_job_runs_at_half_past_nine_uk_time_across_both_clock_changes(
    bot: BotHarness,
) -> None:
    spring = _next_runs(bot, _utc(2027, 3, 26, 12, 0), 3)
    autumn = _next_runs(bot, _utc(2027, 10, 29, 12, 0), 3)

    # 09:30 GMT is 09:30 UTC; from 28 March 09:30 BST is 08:30 UTC; back again on 31 October.
    assert spring == [_utc(2027, 3, 27, 9, 30), _utc(2027, 3, 28, 8, 30), _utc(2027, 3, 29, 8, 30)]
    assert autumn == [
        _utc(2027, 10, 30, 8, 30),
        _utc(2027, 10, 31, 9, 30),
        _utc(2027, 11, 1, 9, 30),
    ]


async def test_there_is_one_recurring_job_for_everyone(bot: BotHarness, fake: FakeTelegram) -> None:
    for _ in range(3):
        await onboard(bot, new_resident_user(fake))
    assert bot.app.job_queue is not None
    names = [job.name for job in bot.app.job_queue.jobs()]
    assert names.count(jobs.JOB_NAME) == 1


async def test_the_planning_time_is_a_setting(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    async with BotHarness.start(fake, database_url, clock, local_info_time=dt.time(7, 45)) as bot:
        assert _next_runs(bot, _utc(2027, 6, 1, 0, 0), 1) == [_utc(2027, 6, 1, 6, 45)]


async def _mum_due_for_week_20(sessions: Sessions, now: dt.datetime) -> Resident:
    await load_sample(sessions, now)
    async with sessions() as session, session.begin():
        return await make_resident(session, now, due_date=due_for_week(now.date(), 20))


async def test_a_run_missed_while_the_bot_was_down_happens_once_at_start_up(
    fake: FakeTelegram, database_url: str, sessions: Sessions
) -> None:
    # The bot comes back at 11:15 UK time: 09:30 has passed and nothing ran today.
    clock = FixedClock(at_local(2026, 11, 30, 11, 15))
    mum = await _mum_due_for_week_20(sessions, clock.now())

    async with BotHarness.start(fake, database_url, clock):
        pass
    after_first_start = await queued(sessions, mum.id)
    clock.advance(dt.timedelta(hours=2))
    async with BotHarness.start(fake, database_url, clock) as bot:
        ran_again = await jobs.catch_up(bot.app)

    assert "pregnancy:20" in after_first_start
    assert await queued(sessions, mum.id) == after_first_start
    assert ran_again is False
    async with sessions() as session:
        [run] = list(await session.scalars(select(PlanningRun)))
    assert run.local_date == clock.now().date()


async def test_starting_before_the_planning_time_leaves_the_run_to_the_job(
    fake: FakeTelegram, database_url: str, sessions: Sessions
) -> None:
    clock = FixedClock(at_local(2027, 6, 1, 9, 15))
    mum = await _mum_due_for_week_20(sessions, clock.now())

    async with BotHarness.start(fake, database_url, clock):
        pass

    assert await queued(sessions, mum.id) == []


async def test_she_receives_her_week_message_with_the_baby_button(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)

    await jobs.daily_job(BotContext(bot.app))
    report = await _deliver(bot)

    received = fake.messages(user.id)[-1]
    assert report.sent >= 1
    assert "You're 25 weeks pregnant" in received.plain_text
    assert "🍼 My baby has arrived" in received.button_texts()


async def _deliver(bot: BotHarness) -> DeliveryReport:
    engine = bot.app.bot_data.delivery
    assert engine is not None
    return await engine.run_until_idle()


async def test_nothing_reaches_her_at_night_and_it_arrives_at_eight(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)
    before = len(fake.messages(user.id))

    clock.set(at_local(2026, 11, 30, 22, 15))
    await jobs.run_daily(bot.app)
    await _deliver(bot)
    at_night = len(fake.messages(user.id))
    clock.set(at_local(2026, 12, 1, 8, 0))
    await _deliver(bot)

    assert at_night == before
    assert "weeks pregnant" in fake.messages(user.id)[-1].plain_text


async def test_a_resident_who_blocked_the_bot_is_marked_and_never_planned_again(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)
    fake.block_bot(user)

    await jobs.run_daily(bot.app)
    await _deliver(bot)
    clock.advance(dt.timedelta(days=7))
    await jobs.run_daily(bot.app)

    async with bot.session() as session:
        resident = await session.scalar(select(Resident))
        assert resident is not None and resident.unreachable_since is not None
        maker = bot.app.bot_data.sessionmaker
        assert maker is not None
    assert "pregnancy:26" not in await queued(maker, resident.id)


async def test_turning_off_local_information_in_privacy_stops_what_is_queued(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)
    clock_night = at_local(2026, 11, 30, 22, 0)
    bot.clock.set(clock_night)
    await jobs.run_daily(bot.app)
    before = len(fake.messages(user.id))

    await bot.send(user, "/privacy")
    await bot.press(user, "Turn off: local information")
    bot.clock.set(at_local(2026, 12, 1, 9, 0))
    await _deliver(bot)

    texts = [m.plain_text for m in fake.messages(user.id)[before:]]
    assert not any("weeks pregnant" in t for t in texts)


async def test_the_local_information_flag_follows_her_latest_recorded_choice(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(True, False, True))
    seen: list[tuple[bool, bool]] = []

    for press in (None, "Turn on: local information", "Turn off: local information"):
        if press is not None:
            await bot.send(user, "/privacy")
            await bot.press(user, press)
            if press.startswith("Turn on"):
                # Turning a purpose on shows its explanation first.
                await bot.press(user, "Yes please")
        async with bot.session() as session:
            resident = await session.scalar(select(Resident))
            assert resident is not None
            recorded = await current_consents(session, resident.person_ref)
        seen.append((resident.local_info_consent, recorded[ConsentPurpose.LOCAL_INFO]))

    assert seen == [(False, False), (True, True), (False, False)]
