"""Urgent help needs no optional step: built-in numbers and phrases, and nothing after the reply."""

from __future__ import annotations

import pytest

from bot.sandbox.fake_api import FakeTelegram
from bot.texts import catalogue
from tests.content_support import CHELMSFORD_TRIAGE, load_sample_into_bot
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness

EN = catalogue("en")
CALL_YOUR_UNIT = "Call your maternity unit or midwife now"
NOT_SURE = "I'm not sure what to do with that"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("my baby is not moving", CALL_YOUR_UNIT),
        ("can't feel the baby kick since yesterday", CALL_YOUR_UNIT),
        ("baby hasn't kicked all day", CALL_YOUR_UNIT),
        ("there is blood when I wipe", CALL_YOUR_UNIT),
        ("contractions every 5 minutes", CALL_YOUR_UNIT),
        ("I think my watters have gone", CALL_YOUR_UNIT),
        ("he hurts me", "0808 2000 247"),
        ("I want to end it all", "116 123"),
        ("my newborn has a high temperature", "NHS 111: 111"),
        ("my baby has gone blue", "999"),
    ],
)
async def test_with_no_content_loaded_urgent_messages_get_the_right_number(
    bot: BotHarness, fake: FakeTelegram, text: str, number: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    assert bot.app.bot_data.content is None

    [urgent] = await bot.send(user, text)

    assert number in urgent.plain_text
    assert "Emergency – ambulance, police: 999" in urgent.plain_text
    assert NOT_SURE not in urgent.plain_text


async def test_nothing_follows_an_urgent_reply(bot: BotHarness, fake: FakeTelegram) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    sent = await bot.send(user, "I want to end it all")

    assert len(sent) == 1
    assert "Samaritans" in sent[0].plain_text


async def test_nothing_follows_an_urgent_reply_to_someone_not_signed_up(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    [urgent] = await bot.send(new_resident_user(fake), "my baby is not moving")

    assert CALL_YOUR_UNIT in urgent.plain_text
    assert "/start" not in urgent.plain_text


async def test_an_ordinary_message_still_gets_the_usual_reply(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    [reply] = await bot.send(user, "my sister's baby is moving house")

    assert NOT_SURE in reply.plain_text


async def test_help_puts_999_first_with_no_content_loaded(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    [sent] = await bot.send(user, "/help")

    text = sent.plain_text
    assert text.index("999") < text.index(CALL_YOUR_UNIT)
    assert text.index("999") < text.index("NHS 111: 111")


async def test_help_never_shows_a_sample_number_before_999(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    resident, newcomer = new_resident_user(fake), new_resident_user(fake)
    await onboard(bot, resident)
    await load_sample_into_bot(bot)

    [for_resident] = await bot.send(resident, "/help")
    [for_newcomer] = await bot.send(newcomer, "/help")

    for text in (for_resident.plain_text, for_newcomer.plain_text):
        assert "SAMPLE" in text
        assert text.index("999") < text.index("SAMPLE")
    assert CHELMSFORD_TRIAGE in for_resident.plain_text


async def test_council_content_adds_her_local_triage_number_after_999(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await load_sample_into_bot(bot)

    [urgent] = await bot.send(user, "there is blood when I wipe")

    text = urgent.plain_text
    assert CHELMSFORD_TRIAGE in text
    assert text.index("999") < text.index(CHELMSFORD_TRIAGE)
    assert CALL_YOUR_UNIT not in text
