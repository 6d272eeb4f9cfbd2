"""Whatever arrives, she gets a kind reply, nothing is lost and nothing personal is logged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.handlers import onboarding
from bot.sandbox.fake_api import FakeTelegram
from models import Resident
from tests.factories import give_consents, give_due_date, new_resident_user, onboard
from tests.harness import BotHarness


async def test_unknown_command_gets_a_kind_reply(bot: BotHarness, fake: FakeTelegram) -> None:
    [sent] = await bot.send(new_resident_user(fake), "/teleport")
    assert "don't know that command" in sent.plain_text


async def test_text_before_signing_up_points_her_to_start(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    [sent] = await bot.send(new_resident_user(fake), "hello?")
    assert "/start" in sent.plain_text


async def test_text_after_signing_up_points_her_to_help(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    [sent] = await bot.send(user, "<script>alert(1)</script>")
    assert "/help" in sent.plain_text


async def test_a_button_from_another_persons_chat_does_not_act_for_them(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    owner, intruder = new_resident_user(fake, "Owner"), new_resident_user(fake, "Intruder")
    await onboard(bot, owner)
    await bot.send(owner, "/forget")
    confirm = bot.last_with_buttons(owner)

    await bot.forge(intruder, confirm, "fg:yes")

    assert bot.last_answer() == "Sorry, that button isn't for you."
    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is not None


@pytest.mark.parametrize("data", ["ob:ward:E99999999", "ob:dist:E07999999", "ob:dist:E07000070:9"])
async def test_forged_area_buttons_do_nothing_and_say_so(
    bot: BotHarness, fake: FakeTelegram, data: str
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await give_due_date(bot, user)

    await bot.forge(user, bot.last(user), data)

    assert bot.last_answer() == "Sorry, that button didn't work. Please use the latest message."
    async with bot.session() as session:
        resident = await session.scalar(select(Resident))
    assert resident is not None and resident.ward_code is None


async def test_an_unknown_button_gets_an_expired_notice(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/help")
    await bot.forge(user, bot.last(user), "no-such-button")
    assert bot.last_answer() == "That button has expired. Send /start to carry on."


async def test_an_error_in_a_handler_is_logged_without_personal_data_and_she_gets_an_apology(
    bot: BotHarness,
    fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = new_resident_user(fake, "Philippa")
    await give_consents(bot, user)

    def broken(text: str, today: object) -> object:
        raise RuntimeError(f"could not handle {text!r} from Philippa")

    monkeypatch.setattr(onboarding, "parse_due_date", broken)
    with caplog.at_level(logging.INFO):
        sent = await bot.send(user, "secret-due-date 14/03/2027")

    assert "something went wrong on our side" in sent[-1].plain_text
    assert "RuntimeError" in caplog.text
    for trace in ("Philippa", "secret-due-date", str(user.id), fake.token):
        assert trace not in caplog.text


async def test_an_edited_message_is_taken_as_her_new_answer_to_the_pending_question(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await bot.send(user, "soon")
    [question] = await bot.edit(user, "14/03/2027")
    assert "Yes, that's right" in question.button_texts()
    await bot.press(user, "Yes, that's right")
    await bot.send(user, "CM1 1AA")
    await bot.edit(user, "<b>Amira</b>")
    assert "handler failed" not in caplog.text
    async with bot.session() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == user.id)
        )
    assert resident is not None and resident.display_name == "<b>Amira</b>"
