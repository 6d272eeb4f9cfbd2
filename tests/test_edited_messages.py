"""An edited message, in every flow: taken as her new answer, or answered kindly; never an error."""

from __future__ import annotations

import pytest

from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.texts import catalogue
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness
from tests.test_broadcast import broadcaster, compose
from tests.test_life_events import _signed_up_with_a_week_message
from tests.test_matching_safety import _hello
from tests.test_matching_support import join, requests
from tests.test_staff_join_links import midwife

EN = catalogue("en")
WENT_WRONG = "something went wrong"


def _no_error(replies: list[SentMessage]) -> None:
    assert replies, "an edit gets an answer"
    assert all(WENT_WRONG not in m.plain_text for m in replies)


async def test_an_edit_outside_any_flow_is_answered_like_a_message(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "hello")

    replies = await bot.edit(user, "hello again")

    _no_error(replies)


@pytest.mark.parametrize(
    "command",
    [
        "/start",
        "/profile",
        "/privacy",
        "/match",
        "/mymatches",
        "/mydata",
        "/feedback",
        "/services",
        "/baby",
        "/forget",
        "/help",
        "/cancel",
        "/staff",
        "/joinlink",
        "/broadcast",
        "/report",
        "/mystats",
        "/myid",
        "/nonsense",
    ],
)
async def test_an_edit_into_any_command_is_answered_as_that_command_would_be(
    bot: BotHarness, fake: FakeTelegram, command: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "hello")

    replies = await bot.edit(user, command)

    _no_error(replies)


async def test_an_edit_while_feedback_waits_for_a_comment_is_the_comment(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(True, True, True))
    await bot.send(user, "/feedback")
    await bot.press(user, "4")
    await bot.press(user, "Hardly ever")

    replies = await bot.edit(user, "Lovely group")

    _no_error(replies)
    assert "Thank you for your feedback" in replies[-1].plain_text


async def test_an_edit_while_baby_waits_for_a_birth_date_is_the_date(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up_with_a_week_message(bot, fake)
    await bot.press(user, "🍼 My baby has arrived")
    await bot.send(user, "someday")

    replies = await bot.edit(user, "28/11/2026")

    _no_error(replies)
    assert "Saturday 28 November 2026" in replies[-1].plain_text


async def test_an_edit_while_a_report_waits_for_its_reason_is_the_reason(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await _hello(bot, fake, amira, "Bea")
    await bot.send(bea, "hello")
    await bot.press(bea, "⚠️ Report", message=requests(fake, bea)[-1])
    await bot.press(bea, "⚠️ Yes, report")

    replies = await bot.edit(bea, "She asked for my address")

    _no_error(replies)
    assert "our moderators will look at this" in replies[-1].plain_text


async def test_an_edit_while_a_join_link_waits_for_the_clinic_is_the_clinic(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user: FakeUser = await midwife(bot, fake)
    await bot.send(user, "/joinlink")
    await bot.send(user, "Chelmsford Midwives")

    replies = await bot.edit(user, "Chelmsford Community Midwives")

    _no_error(replies)


async def test_an_edit_while_a_broadcast_is_written_is_taken_kindly(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await broadcaster(bot, fake)
    await compose(bot, user, "A first draft")

    replies = await bot.edit(user, "A better draft")

    _no_error(replies)
