"""Typed answers where buttons are shown, and "I don't understand" that always asks again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.sandbox.fake_api import FakeTelegram
from models import ConsentEvent, ConsentPurpose
from tests.factories import give_consents, new_resident_user, onboard
from tests.harness import BotHarness
from tests.test_life_events import _signed_up_with_a_week_message

YES = ["yes", "Yes please", "Y", "YES PLEASE"]
NO = ["no", "No thanks", "n", "NO THANKS"]


@pytest.mark.parametrize(
    ("typed", "granted"), [*[(y, True) for y in YES], *[(n, False) for n in NO]]
)
async def test_typed_yes_or_no_answers_every_consent_question_like_its_buttons(
    bot: BotHarness, fake: FakeTelegram, typed: str, granted: bool
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    # The required consent: "no" is a refusal, and sign-up stops there.
    first = await bot.send(user, typed)
    if not granted:
        assert "We haven't kept any of your details" in first[-1].plain_text
        async with bot.session() as session:
            refusal = await session.scalar(select(ConsentEvent))
        assert refusal is not None and refusal.granted is False and refusal.method == "typed:no"
        return
    assert "Meeting other mums-to-be" in first[-1].plain_text

    for expected_next in ("Local information", "Feedback", "When is your baby due?"):
        replies = await bot.send(user, typed)
        assert expected_next in replies[-1].plain_text

    async with bot.session() as session:
        events = list(await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))
    assert [e.purpose for e in events] == [
        ConsentPurpose.HEALTH_DATA,
        ConsentPurpose.MATCHING,
        ConsentPurpose.LOCAL_INFO,
        ConsentPurpose.FEEDBACK,
    ]
    assert all(e.method == "typed:yes" for e in events)


async def test_a_typed_no_to_an_optional_consent_is_recorded_as_no(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")

    await bot.send(user, "No thanks")

    async with bot.session() as session:
        matching = await session.scalar(
            select(ConsentEvent).where(ConsentEvent.purpose == ConsentPurpose.MATCHING)
        )
    assert matching is not None and matching.granted is False
    assert matching.method == "typed:no"


async def test_anything_else_at_a_consent_step_asks_the_question_again_with_its_buttons(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")

    *_, question = await bot.send(user, "maybe later")

    assert question.button_texts() == ["Yes, I agree", "No thanks"]


async def test_a_bare_number_at_the_due_date_step_is_weeks_pregnant_shown_as_a_date(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    [question] = await bot.send(user, "20")

    # 30 November 2026 at 20+0 weeks: due 280 - 140 days later.
    assert "20+0 weeks pregnant" in question.plain_text
    assert "19 April 2027" in question.plain_text
    assert question.button_texts() == ["Yes, that's right", "No, let me change it"]


@pytest.mark.parametrize("typed", ["2", "3", "43", "60"])
async def test_a_bare_number_that_is_no_plausible_week_is_asked_about_again(
    bot: BotHarness, fake: FakeTelegram, typed: str
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    [again] = await bot.send(user, typed)

    assert "20 weeks" in again.plain_text
    assert again.button_texts() == ["I don't know yet"]


async def test_a_photo_at_the_name_step_asks_again_with_the_first_name_button(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, confirm=False)
    await bot.press(user, "Change name")

    *_, question = await bot.send_media(user, "photo")

    assert "Use Amira" in " ".join(question.button_texts())


async def test_text_while_feedback_waits_for_a_rating_asks_for_the_rating_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/feedback")

    sorry, question = await bot.send(user, "it's great")

    assert "buttons" in sorry.plain_text
    assert question.button_texts()[:5] == ["1", "2", "3", "4", "5"]


async def test_text_while_baby_waits_for_a_choice_asks_again_with_the_buttons(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up_with_a_week_message(bot, fake)
    await bot.send(user, "/baby")

    sorry, question = await bot.send(user, "what?")

    assert "buttons" in sorry.plain_text
    assert len(question.button_texts()) == 3
