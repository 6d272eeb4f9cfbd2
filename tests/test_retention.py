"""Retention: personal data is erased a set time after the due date or birth, after a notice."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram
from bot.services.residents.retention import RetentionResult, apply_retention, notice_key
from models import ConsentEvent, LifeEvent, LifeStage, Resident
from tests.content_support import LONDON, Sessions, at_local, queued
from tests.factories import TEST_KEY, make_resident, new_resident_user, onboard
from tests.harness import BotHarness

NOW = at_local(2027, 6, 1, 9, 30)
TODAY = NOW.date()


async def _run(sessions: Sessions, now: dt.datetime, months: int = 12) -> RetentionResult:
    async with sessions() as session, session.begin():
        return await apply_retention(
            session,
            now,
            LONDON,
            months=months,
            notice_days=7,
            not_before=now,
            safeguarding=TEST_KEY,
        )


async def _exists(sessions: Sessions, resident_id: int) -> bool:
    async with sessions() as session:
        return await session.get(Resident, resident_id) is not None


async def _history(sessions: Sessions, person_ref: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(ConsentEvent.person_ref == person_ref)
        )
    return int(count or 0)


async def test_she_is_told_a_week_before_and_erased_on_the_day_keeping_consent_history(
    sessions: Sessions,
) -> None:
    erase_on = TODAY + dt.timedelta(days=7)
    async with sessions() as session, session.begin():
        mum = await make_resident(session, NOW, due_date=erase_on - relativedelta(months=12))
    history = await _history(sessions, mum.person_ref)

    told = await _run(sessions, NOW)
    day_before = await _run(sessions, NOW + dt.timedelta(days=6))
    on_the_day = await _run(sessions, NOW + dt.timedelta(days=7))

    assert (told.notices, told.erased) == (1, 0)
    assert (day_before.notices, day_before.erased) == (0, 0)
    assert (on_the_day.notices, on_the_day.erased) == (0, 1)
    assert not await _exists(sessions, mum.id)
    assert await _history(sessions, mum.person_ref) == history


async def test_nobody_is_erased_without_a_full_weeks_notice(sessions: Sessions) -> None:
    # The retention date has already passed (e.g. the period was shortened): notice first.
    async with sessions() as session, session.begin():
        mum = await make_resident(session, NOW, due_date=TODAY - relativedelta(months=13))

    first = await _run(sessions, NOW)
    await _run(sessions, NOW + dt.timedelta(days=3))
    still_here = await _exists(sessions, mum.id)
    await _run(sessions, NOW + dt.timedelta(days=7))

    assert (first.notices, first.erased) == (1, 0)
    assert still_here
    assert not await _exists(sessions, mum.id)


async def test_after_the_birth_the_period_counts_from_the_birthday(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        mum = await make_resident(session, NOW, due_date=TODAY - relativedelta(months=13))
        session.add(
            LifeEvent(
                resident_id=mum.id,
                stage=LifeStage.BABY,
                baby_born_on=TODAY - relativedelta(months=11),
                keep_local_info=False,
                updated_at=NOW,
            )
        )

    result = await _run(sessions, NOW)

    assert result == RetentionResult(0, 0)
    assert await _exists(sessions, mum.id)


async def test_the_retention_period_is_configurable(sessions: Sessions) -> None:
    due = TODAY - relativedelta(months=6) + dt.timedelta(days=3)
    async with sessions() as session, session.begin():
        mum = await make_resident(session, NOW, due_date=due)

    twelve = await _run(sessions, NOW, months=12)
    six = await _run(sessions, NOW, months=6)

    assert twelve.notices == 0
    assert six.notices == 1
    assert await queued(sessions, mum.id) == [notice_key(due + relativedelta(months=6))]


async def test_residents_well_within_the_period_are_left_alone(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await make_resident(session, NOW, due_date=TODAY - relativedelta(months=3))
        await make_resident(session, NOW, due_date=TODAY + dt.timedelta(weeks=10))

    assert await _run(sessions, NOW) == RetentionResult(0, 0)


async def test_the_daily_job_sends_the_notice_and_later_erases_her(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    # A year after her due date, less a week.
    clock.set(at_local(2028, 3, 7, 9, 30))
    await jobs.run_daily(bot.app)
    engine = bot.app.bot_data.delivery
    assert engine is not None
    await engine.run_until_idle()
    notice = fake.messages(user.id)[-1]

    clock.advance(dt.timedelta(days=7))
    await jobs.run_daily(bot.app)

    assert "on Tuesday 14 March 2028 we'll delete" in notice.plain_text
    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is None
    [welcome, *_] = await bot.send(user, "/start")
    assert "welcome to Bump Buddies" in welcome.plain_text
