"""Forged and stale buttons get a kind answer and change nothing; erasure needs the very
confirmation button she was shown."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from bot.sandbox.fake_api import FakeTelegram
from bot.texts import catalogue
from models import ConsentEvent, ModerationDecision, Resident
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness
from tests.test_matching_support import card_for, join
from tests.test_staff_moderation import moderator, reported_pair

BAD_BUTTON = "Sorry, that button didn't work. Please use the latest message."


def _no_handler_failed(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if "handler failed" in r.getMessage()]


async def _resident(bot: BotHarness, telegram_user_id: int) -> Resident | None:
    async with bot.session() as session:
        return await session.scalar(
            select(Resident).where(Resident.telegram_user_id == telegram_user_id)
        )


@pytest.mark.parametrize("data", ["pv:", "pv:matching", "pv:a:b:c", "pv:matching:on:x", "pv::"])
async def test_malformed_privacy_buttons_are_answered_kindly_and_change_nothing(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    choices = (await bot.send(user, "/privacy"))[-1]
    before = await _resident(bot, user.id)

    with caplog.at_level(logging.INFO):
        await bot.forge(user, choices, data)

    _no_handler_failed(caplog)
    assert bot.last_answer() == BAD_BUTTON
    after = await _resident(bot, user.id)
    assert before is not None and after is not None
    assert after.matching_consent == before.matching_consent


@pytest.mark.parametrize("data", ["fg:yes", "fg:no"])
async def test_forget_buttons_pressed_on_a_message_without_buttons_do_not_fail(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    plain = (await bot.send(user, "hello"))[-1]

    with caplog.at_level(logging.INFO):
        await bot.forge(user, plain, data)

    _no_handler_failed(caplog)
    assert await _resident(bot, user.id) is not None


async def test_a_forged_forget_confirmation_erases_nothing(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    choices = (await bot.send(user, "/privacy"))[-1]  # any message of ours with buttons

    with caplog.at_level(logging.INFO):
        await bot.forge(user, choices, "fg:yes")

    _no_handler_failed(caplog)
    assert await _resident(bot, user.id) is not None


async def test_an_older_forget_confirmation_no_longer_works_once_she_said_no(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/forget")
    question = bot.last_with_buttons(user)
    yes = next(d for d in question.callback_data() if d.startswith("fg:yes"))
    await bot.press(user, "No, keep my details")

    await bot.forge(user, question, yes)

    assert await _resident(bot, user.id) is not None


async def test_the_forget_confirmation_she_was_shown_erases(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/forget")

    await bot.press(user, "Yes, delete everything")

    assert await _resident(bot, user.id) is None


async def test_moderation_buttons_pressed_on_a_message_without_buttons_do_not_fail(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    mo = await moderator(bot, fake)
    _, _, decided = await reported_pair(bot, fake)
    _, _, open_report = await reported_pair(bot, fake)
    await bot.send(mo, "/moderation")
    await bot.forge(mo, bot.last_with_buttons(mo), f"md:{decided}:dismiss")
    plain = (await bot.send(mo, "hello"))[-1]

    with caplog.at_level(logging.INFO):
        await bot.forge(mo, plain, f"md:{decided}:warn")  # already decided
        await bot.forge(mo, plain, f"md:{open_report}:dismiss")  # recorded, then no buttons
        await bot.forge(mo, plain, "md:999999:warn")

    _no_handler_failed(caplog)
    async with bot.session() as session:
        assert len(list(await session.scalars(select(ModerationDecision)))) == 2


async def test_a_consent_button_forged_onto_another_message_records_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    # Found by tests/test_conversation_properties.py: ('/baby: birth date', pv:feedback:off).
    user = fake.new_user("Amira")
    await onboard(bot, user)
    await bot.send(user, "/baby")
    question = bot.last_with_buttons(user)
    async with bot.session() as session:
        before = await session.scalar(select(func.count()).select_from(ConsentEvent))
    await bot.forge(user, question, "pv:feedback:off")
    await bot.forge(user, question, "pv:matching:yes")
    async with bot.session() as session:
        after = await session.scalar(select(func.count()).select_from(ConsentEvent))
    assert after == before
    assert "earlier message" in (bot.last_answer() or "")


@pytest.mark.parametrize("data", ["ob:due:no", "ob:due:yes:2027-02-30", "ob:consent:matching:no"])
async def test_an_old_sign_up_button_leaves_a_profile_change_where_it_was(
    bot: BotHarness, fake: FakeTelegram, data: str
) -> None:
    # Found by tests/test_conversation_properties.py: ('/profile: due date', ob:due:yes:…).
    user = fake.new_user("Amira")
    await onboard(bot, user)
    await bot.send(user, "/profile")
    profile = bot.last_with_buttons(user)
    await bot.press(user, profile.callback_data().index("ob:sum:due"), profile)
    question = bot.last(user)
    async with bot.session() as session:
        before = await session.scalar(select(Resident).where(Resident.telegram_user_id == user.id))
        assert before is not None
        stamp = before.updated_at
    sent = await bot.forge(user, question, data)
    assert sent == []
    assert "button" in (bot.last_answer() or "")
    async with bot.session() as session:
        after = await session.scalar(select(Resident).where(Resident.telegram_user_id == user.id))
        assert after is not None and after.updated_at == stamp
    # She is still changing her due date: a date she types now is read as one.
    [confirm] = await bot.send(user, "20/03/2027")
    assert "Yes, that's right" in confirm.button_texts()


async def test_a_skip_button_of_another_report_leaves_her_reason_question_open(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    # Found by tests/test_conversation_properties.py at '/match: report reason' (mt:rsn:<id>).
    await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "⚠️ Report", message=card_for(fake, amira, "Bea"))
    [question] = await bot.press(amira, "⚠️ Yes, report")
    sent = await bot.forge(amira, question, "mt:rsn:999")
    assert sent == [] and "earlier message" in (bot.last_answer() or "")
    [thanks] = await bot.send(amira, "She asked for my address")
    assert thanks.text == catalogue("en")("match.report.thanks")
