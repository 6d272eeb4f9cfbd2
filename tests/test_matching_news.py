"""'New mums near you': at most one message a day, by day, to members a newcomer suits."""

from __future__ import annotations

import datetime as dt

from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from tests.harness import BotHarness
from tests.test_matching_support import card_for, join, run_matching_job

# December: UK time is UTC.
MONDAY = dt.date(2026, 11, 30)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def _news(fake: FakeTelegram, user: FakeUser) -> list[SentMessage]:
    return [m for m in fake.messages(user) if "near you</b>" in (m.text or "")]


async def test_a_newcomer_is_announced_in_one_daytime_message_to_members_she_suits(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    far = await join(bot, fake, "Far", area="CO1 1AA")
    later = await join(bot, fake, "Later", due="30/06/2027")
    no_consent = await join(bot, fake, "Nope", matching=False)
    await join(bot, fake, "Amira")

    await run_matching_job(bot)

    [news] = _news(fake, bea)
    assert "Someone due around the same time as you has joined" in news.plain_text
    assert "Amira" not in news.plain_text
    assert news.button_texts() == ["👋 Show me mums near me"]
    for other in (far, later, no_consent):
        assert _news(fake, other) == []
    shown = await bot.press(bea, "👋 Show me mums near me", message=news)
    assert any(m.plain_text.startswith("👤 Amira") for m in shown)


async def test_at_most_one_message_a_day_however_many_join(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Amira")
    await run_matching_job(bot)
    bot.clock.set(_at(MONDAY, 15))
    await join(bot, fake, "Cat")
    await join(bot, fake, "Dee")
    await run_matching_job(bot)
    assert len(_news(fake, bea)) == 1

    bot.clock.set(_at(MONDAY + dt.timedelta(days=1), 9))
    await run_matching_job(bot)
    await run_matching_job(bot)

    assert len(_news(fake, bea)) == 2
    assert "2 mums-to-be due around the same time" in _news(fake, bea)[-1].plain_text


async def test_never_between_nine_at_night_and_eight_in_the_morning(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    bot.clock.set(_at(MONDAY, 21, 0))
    await join(bot, fake, "Amira")

    for hour, minute in ((21, 0), (23, 30), (7, 59)):
        day = MONDAY if hour >= 21 else MONDAY + dt.timedelta(days=1)
        bot.clock.set(_at(day, hour, minute))
        await run_matching_job(bot)
        assert _news(fake, bea) == [], (hour, minute)

    bot.clock.set(_at(MONDAY + dt.timedelta(days=1), 8, 0))
    await run_matching_job(bot)
    assert len(_news(fake, bea)) == 1


async def test_a_newcomer_who_leaves_matching_before_the_message_is_not_announced(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    bot.clock.set(_at(MONDAY, 22))
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/privacy")
    await bot.press(amira, "Turn off: meeting other mums")

    bot.clock.set(_at(MONDAY + dt.timedelta(days=1), 9))
    await run_matching_job(bot)

    assert _news(fake, bea) == []


async def test_no_news_when_match_would_not_show_the_newcomer_among_her_suggestions(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    for name in ("Cat", "Dee", "Eve"):
        await join(bot, fake, name)
    await run_matching_job(bot)
    told_before = len(_news(fake, bea))
    bot.clock.set(_at(MONDAY + dt.timedelta(days=1), 10))
    # Due a fortnight after Bea: near enough to be noted, but Cat, Dee and Eve suit Bea better.
    await join(bot, fake, "Amira", due="28/03/2027")

    await run_matching_job(bot)
    shown = await bot.send(bea, "/match")

    assert not any(m.plain_text.startswith("👤 Amira") for m in shown)
    assert len(_news(fake, bea)) == told_before


async def test_no_news_about_a_newcomer_who_has_since_blocked_her(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    bot.clock.set(_at(MONDAY, 22))
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "🚫 Block", card_for(fake, amira, "Bea"))

    bot.clock.set(_at(MONDAY + dt.timedelta(days=1), 9))
    await run_matching_job(bot)

    assert _news(fake, bea) == []
