"""Safeguarding that survives erasure: a suspension, blocks and reports come back with her."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.residents.data_rights import forget_resident
from bot.services.residents.safeguarding import SafeguardingKey
from bot.services.staff.moderation import is_suspended_from_matching
from models import (
    MatchBlock,
    MatchReport,
    Resident,
    SafeguardingKind,
    SafeguardingRecord,
    StaffRole,
)
from tests.conftest import DEFAULT_NOW
from tests.factories import TEST_KEY, make_resident, make_staff, onboard
from tests.harness import TEST_SAFEGUARDING_SECRET, BotHarness, settings_for_test
from tests.test_matching_support import card_for, cards, join, resident_of
from tests.test_privacy_and_data_rights import _all_rows_as_text


async def _shown_names(bot: BotHarness, user: FakeUser) -> list[str]:
    before = len(cards(bot.fake, user))
    await bot.send(user, "/match")
    return [
        c.plain_text.splitlines()[0].removeprefix("👤 ") for c in cards(bot.fake, user)[before:]
    ]


async def _forget(bot: BotHarness, user: FakeUser) -> None:
    await bot.send(user, "/forget")
    await bot.press(user, "Yes, delete everything")


async def _rejoin(bot: BotHarness, user: FakeUser, name: str) -> None:
    """The same Telegram account signs up again, as anyone could after /forget."""
    await onboard(bot, user, name=name)


async def _report(bot: BotHarness, reporter: FakeUser, name: str, reason: str | None) -> None:
    await bot.send(reporter, "/match")
    await bot.press(reporter, "⚠️ Report", message=card_for(bot.fake, reporter, name))
    await bot.press(reporter, "⚠️ Yes, report")
    if reason is None:
        await bot.press(reporter, "Skip")
    else:
        await bot.send(reporter, reason)


async def _moderator(bot: BotHarness) -> FakeUser:
    user = bot.fake.new_user("Mo", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.MODERATOR, user.id)
    return user


async def _records(bot: BotHarness) -> list[SafeguardingRecord]:
    async with bot.session() as session:
        return list(await session.scalars(select(SafeguardingRecord)))


async def test_a_blocked_resident_who_erases_herself_and_rejoins_stays_blocked(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Cat")
    await bot.send(amira, "/match")
    await bot.press(amira, "🚫 Block", message=card_for(fake, amira, "Bea"))

    await _forget(bot, bea)
    await _rejoin(bot, bea, "Bea")

    assert await _shown_names(bot, amira) == ["Cat"]
    assert await _shown_names(bot, bea) == ["Cat"]


async def test_a_suspended_resident_who_erases_herself_and_rejoins_is_still_suspended(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Cat")
    await _report(bot, amira, "Bea", "She asked where I live")
    mo = await _moderator(bot)
    await bot.send(mo, "/moderation")
    await bot.press(mo, "Suspend from matching")

    await _forget(bot, bea)
    await _rejoin(bot, bea, "Bea")

    async with bot.session() as session:
        assert await is_suspended_from_matching(session, (await resident_of(bot, bea)).id)
    assert "Bea" not in await _shown_names(bot, amira)
    assert "Bea" not in await _shown_names(bot, await join(bot, fake, "Dee"))
    assert await _shown_names(bot, bea) == []


async def test_an_undecided_report_comes_back_to_the_moderators_when_she_rejoins(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea")
    await _report(bot, amira, "Bea", "She asked where I live")
    mo = await _moderator(bot)
    await _forget(bot, bea)
    assert "There are no reports waiting" in (await bot.send(mo, "/moderation"))[0].plain_text

    await _rejoin(bot, bea, "Bea")

    [card] = await bot.send(mo, "/moderation")
    assert "About: Bea" in card.plain_text
    assert "Reason given: She asked where I live" in card.plain_text


async def test_the_record_kept_after_her_erasure_holds_keyed_hashes_and_nothing_else(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea", username="bea_mum")
    await _report(bot, amira, "Bea", "Rude to me")

    await _forget(bot, bea)

    expected = hmac.new(
        TEST_SAFEGUARDING_SECRET.encode(), f"telegram-user:{bea.id}".encode(), hashlib.sha256
    ).hexdigest()
    records = await _records(bot)
    assert {r.subject_key for r in records} == {expected}
    assert {r.kind for r in records} == {SafeguardingKind.BLOCK, SafeguardingKind.REPORT}
    assert {r.other_key for r in records} == {TEST_KEY.of(amira.id)}
    async with bot.app.bot_data.engine.connect() as connection:  # type: ignore[union-attr]
        everything = await _all_rows_as_text(connection)
    for trace in (str(bea.id), "bea_mum", "Bea"):
        assert trace not in everything


async def test_when_the_one_who_reported_her_forgets_her_side_goes_with_her(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea")
    await _report(bot, amira, "Bea", "Quixotic complaint")
    await _forget(bot, bea)
    assert await _records(bot) != []

    await _forget(bot, amira)

    assert await _records(bot) == []
    async with bot.app.bot_data.engine.connect() as connection:  # type: ignore[union-attr]
        assert "Quixotic" not in await _all_rows_as_text(connection)
    await _rejoin(bot, bea, "Bea")
    async with bot.session() as session:
        assert await session.scalar(select(MatchReport)) is None


async def test_a_suspension_outlives_the_reporter_forgetting(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea")
    await _report(bot, amira, "Bea", None)
    mo = await _moderator(bot)
    await bot.send(mo, "/moderation")
    await bot.press(mo, "Suspend from matching")
    await _forget(bot, bea)

    await _forget(bot, amira)
    await _rejoin(bot, bea, "Bea")

    assert await _records(bot) == []  # restored, so no longer kept apart
    async with bot.session() as session:
        assert await is_suspended_from_matching(session, (await resident_of(bot, bea)).id)


async def test_the_daily_job_purges_records_past_the_retention_limit(bot: BotHarness) -> None:
    settings = bot.app.bot_data.settings
    assert settings is not None and settings.safeguarding_retention_months == 24
    now = bot.clock.now()
    key = TEST_KEY
    async with bot.session() as session, session.begin():
        for telegram_user_id, days_ago in ((1, 731), (2, 700)):
            session.add(
                SafeguardingRecord(
                    subject_key=key.of(telegram_user_id),
                    kind=SafeguardingKind.BLOCK,
                    other_key=key.of(3),
                    happened_at=now - dt.timedelta(days=days_ago + 30),
                    recorded_at=now - dt.timedelta(days=days_ago),
                )
            )

    await jobs.run_daily(bot.app)

    [kept] = await _records(bot)
    assert kept.subject_key == key.of(2)


async def test_the_privacy_notice_says_what_is_kept_after_erasure_why_and_for_how_long(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await join(bot, fake, "Amira")

    notice = (await bot.send(user, "/privacy"))[0].plain_text
    confirm = (await bot.send(user, "/forget"))[-1].plain_text

    assert "safeguarding" in notice
    assert "24 months" in notice
    assert "legitimate interest" in notice
    assert "safeguarding" in confirm


async def test_two_erasing_at_once_leave_no_trace_of_the_one_who_blocked(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(6):
        async with sessions() as session, session.begin():
            blocker = await make_resident(session, DEFAULT_NOW)
            blocked = await make_resident(session, DEFAULT_NOW)
            session.add(
                MatchBlock(blocker_id=blocker.id, blocked_id=blocked.id, created_at=DEFAULT_NOW)
            )

        async def erase(who: Resident) -> None:
            async with sessions() as session, session.begin():
                await forget_resident(session, who.telegram_user_id, TEST_KEY, DEFAULT_NOW)

        await asyncio.gather(erase(blocked), erase(blocker))

        async with sessions() as session:
            left = list(await session.scalars(select(SafeguardingRecord.other_key)))
        assert TEST_KEY.of(blocker.telegram_user_id) not in left


async def test_her_mydata_shows_the_reports_and_blocks_kept_after_the_other_erased(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea")
    await _report(bot, amira, "Bea", "She asked where I live")
    await _forget(bot, bea)

    *_, sent = await bot.send(amira, "/mydata")

    assert sent.document is not None
    kept = json.loads(sent.document[1])["matching"]["kept_for_safeguarding"]
    assert sorted(k["what"] for k in kept) == ["block", "report"]
    assert {k["reason"] for k in kept} == {None, "She asked where I live"}


def test_the_secret_never_shows_in_a_repr_and_the_hash_depends_on_it() -> None:
    settings = settings_for_test("1:token", "sqlite+aiosqlite://")

    assert TEST_SAFEGUARDING_SECRET not in repr(settings) + repr(TEST_KEY)
    assert TEST_KEY.of(42) == TEST_KEY.of(42) != TEST_KEY.of(43)
    assert SafeguardingKey("another-secret-of-at-least-32-chars!").of(42) != TEST_KEY.of(42)
