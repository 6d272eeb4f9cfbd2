"""Life events: the baby has arrived, or the pregnancy has ended; messages follow at once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.residents.life_events import BirthDateProblem, parse_birth_date
from models import DeliveryStatus, LifeEvent, LifeStage, Resident
from tests.content_support import Sessions, load_sample_into_bot, queued
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness

TODAY = dt.date(2026, 11, 30)


def _sessions(bot: BotHarness) -> Sessions:
    maker = bot.app.bot_data.sessionmaker
    assert maker is not None
    return maker


async def _resident(bot: BotHarness) -> Resident:
    async with bot.session() as session:
        resident: Resident | None = await session.scalar(select(Resident))
    assert resident is not None
    return resident


async def _event(bot: BotHarness) -> LifeEvent | None:
    async with bot.session() as session:
        return await session.scalar(select(LifeEvent))


async def _signed_up_with_a_week_message(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    """She has signed up and her week message has arrived (with its button)."""
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)
    await jobs.run_daily(bot.app)
    engine = bot.app.bot_data.delivery
    assert engine is not None
    await engine.run_until_idle()
    return user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", TODAY),
        ("Yesterday", TODAY - dt.timedelta(days=1)),
        ("28/11/2026", dt.date(2026, 11, 28)),
        ("28.11.26", dt.date(2026, 11, 28)),
        ("28th November", dt.date(2026, 11, 28)),
        ("3 dec", dt.date(2025, 12, 3)),
        ("14/12", dt.date(2025, 12, 14)),
        ("1/12/2026", BirthDateProblem.FUTURE),
        ("1/1/2024", BirthDateProblem.TOO_OLD),
        ("31/02/2026", BirthDateProblem.UNRECOGNISED),
        ("a while ago", BirthDateProblem.UNRECOGNISED),
    ],
)
def test_birth_dates_are_read_day_first_and_never_in_the_future(
    text: str, expected: dt.date | BirthDateProblem
) -> None:
    assert parse_birth_date(text, TODAY) == expected


async def test_the_baby_button_under_a_week_message_switches_her_to_the_postnatal_series(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = await _signed_up_with_a_week_message(bot, fake)

    [question] = await bot.press(user, "🍼 My baby has arrived")
    [thanks] = await bot.send(user, "28/11/2026")
    clock.advance(dt.timedelta(days=6))
    await jobs.run_daily(bot.app)

    assert "When was your baby born?" in question.plain_text
    assert "Saturday 28 November 2026" in thanks.plain_text
    event = await _event(bot)
    assert event is not None and event.stage is LifeStage.BABY
    assert event.baby_born_on == dt.date(2026, 11, 28)
    keys = await queued(_sessions(bot), (await _resident(bot)).id, status=DeliveryStatus.QUEUED)
    assert "postnatal:2" in keys
    assert not any(k.startswith("pregnancy:") for k in keys)


async def test_telling_us_about_the_birth_cancels_pregnancy_messages_still_queued(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)
    clock.set(dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC))
    await jobs.run_daily(bot.app)  # queued for the morning

    await bot.send(user, "/baby")
    await bot.press(user, "🍼 My baby has arrived")
    await bot.press(user, "Today")

    keys = await queued(_sessions(bot), (await _resident(bot)).id, status=DeliveryStatus.QUEUED)
    assert not any(k.startswith("pregnancy:") for k in keys)


async def test_an_old_baby_button_after_the_birth_is_recorded_says_so_kindly(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up_with_a_week_message(bot, fake)
    week_message = bot.last_with_buttons(user)
    await bot.press(user, "🍼 My baby has arrived", week_message)
    await bot.press(user, "Today")

    await bot.press(user, "🍼 My baby has arrived", week_message)

    assert bot.last_answer() == "Thank you – we already know your baby has arrived 💛"


async def test_a_forged_birth_date_button_is_checked_like_a_typed_date(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up_with_a_week_message(bot, fake)
    [question] = await bot.press(user, "🍼 My baby has arrived")

    await bot.forge(user, question, "le:bd:2020-01-01")

    assert "please type your baby's birth date" in str(bot.last_answer())
    assert await _event(bot) is None


async def test_no_longer_pregnant_stops_everything_and_offers_gentle_support(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)
    clock.set(dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC))
    await jobs.run_daily(bot.app)

    await bot.send(user, "/baby")
    [confirm] = await bot.press(user, "I'm no longer pregnant")
    support, choice = await bot.press(user, "Yes, please stop them")

    assert "Would you like us to stop all pregnancy messages" in confirm.plain_text
    for charity in ("Tommy's", "Sands", "Miscarriage Association"):
        assert charity in support.plain_text
    assert choice.button_texts() == ["Keep my account for local info", "Delete everything"]
    resident = await _resident(bot)
    assert await queued(_sessions(bot), resident.id, status=DeliveryStatus.QUEUED) == []
    event = await _event(bot)
    assert event is not None and event.stage is LifeStage.ENDED and not event.keep_local_info

    # Weeks go by: nothing about pregnancy or babies is planned for her.
    for _ in range(3):
        clock.advance(dt.timedelta(days=7))
        await jobs.run_daily(bot.app)
    assert await queued(_sessions(bot), resident.id, status=DeliveryStatus.QUEUED) == []


async def test_after_a_loss_she_can_keep_her_account_for_local_information_only(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/03/2027")
    await load_sample_into_bot(bot)
    await bot.send(user, "/baby")
    await bot.press(user, "I'm no longer pregnant")
    await bot.press(user, "Yes, please stop them")

    [kept] = await bot.press(user, "Keep my account for local info")
    for _ in range(3):
        clock.advance(dt.timedelta(days=7))
        await jobs.run_daily(bot.app)

    assert "only send you general local information" in kept.plain_text
    keys = await queued(_sessions(bot), (await _resident(bot)).id)
    # Only what the content marks as suitable after a loss (wellbeing support).
    assert keys and all(k == "services:perinatal_mental_health" for k in keys)


async def test_after_a_loss_delete_everything_asks_the_usual_forget_question(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)
    await bot.send(user, "/baby")
    await bot.press(user, "I'm no longer pregnant")
    await bot.press(user, "Yes, please stop them")

    [question] = await bot.press(user, "Delete everything")
    await bot.press(user, "Yes, delete everything")

    assert "Delete your data?" in question.plain_text
    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is None
        assert await session.scalar(select(LifeEvent)) is None


async def test_changing_her_mind_before_confirming_keeps_everything(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/baby")
    await bot.press(user, "I'm no longer pregnant")

    [kept] = await bot.press(user, "No, go back")

    assert "Nothing has changed" in kept.plain_text
    assert await _event(bot) is None


async def test_the_overdue_check_in_is_asked_once_and_answers_are_kind(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="14/12/2026")
    await load_sample_into_bot(bot)
    clock.set(dt.datetime(2026, 12, 28, 10, 0, tzinfo=dt.UTC))
    await jobs.run_daily(bot.app)
    engine = bot.app.bot_data.delivery
    assert engine is not None
    await engine.run_until_idle()
    checkins = [m for m in fake.messages(user.id) if "Just checking in" in m.plain_text]

    buttons = checkins[0].button_texts()
    [reply] = await bot.press(user, "Still waiting", checkins[0])
    clock.advance(dt.timedelta(days=1))
    await jobs.run_daily(bot.app)
    await engine.run_until_idle()

    assert len(checkins) == 1
    assert buttons == ["🍼 My baby has arrived", "Still waiting", "I'm no longer pregnant"]
    assert "not long now" in reply.plain_text
    assert sum("Just checking in" in m.plain_text for m in fake.messages(user.id)) == 1


async def test_baby_before_sign_up_is_finished_points_her_back_to_sign_up(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")

    [sent] = await bot.send(user, "/baby")

    assert "finish signing you up" in sent.plain_text


async def test_mydata_includes_what_she_told_us_and_forget_erases_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/baby")
    await bot.press(user, "🍼 My baby has arrived")
    await bot.send(user, "29/11/2026")

    *_, document = await bot.send(user, "/mydata")
    await bot.send(user, "/forget")
    await bot.press(user, "Yes, delete everything")

    assert document.document is not None
    exported = json.loads(document.document[1])
    assert exported["life_events"]["stage"] == "baby"
    assert exported["life_events"]["baby_born_on"] == "2026-11-29"
    assert await _event(bot) is None
