"""An urgent message mid-flow: the urgent answer first, then the question she was on, once more."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.sandbox.fake_api import FakeTelegram
from bot.texts import catalogue
from models import FeedbackComment, Resident
from tests.factories import give_consents, give_due_date, new_resident_user, onboard
from tests.harness import BotHarness

EN = catalogue("en")
URGENT = "I think my waters have broken"
NOT_SURE = "I'm not sure what to do with that"


async def test_mid_sign_up_the_due_date_question_comes_again_and_sign_up_carries_on(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    urgent, question = await bot.send(user, URGENT)

    assert "waters" in urgent.plain_text
    assert "When is your baby due?" in question.plain_text
    [saved, *_] = await bot.send(user, "14/03/2027")
    assert "14 March 2027" in saved.plain_text


async def test_mid_sign_up_a_consent_question_comes_again_with_its_buttons(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")

    urgent, question = await bot.send(user, "bby hasnt moved 4 ages")

    assert "movements" in urgent.plain_text
    assert question.button_texts() == ["Yes please", "No thanks"]
    assert all(NOT_SURE not in m.plain_text for m in (urgent, question))
    await bot.press(user, "Yes please", question)
    assert "Yes please" in bot.last_with_buttons(user).button_texts()


async def test_before_agreeing_the_consent_question_comes_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")

    urgent, question = await bot.send(user, "he hurts me")

    assert "0808 2000 247" in urgent.plain_text
    assert "Yes, I agree" in question.button_texts()


async def test_mid_profile_change_the_new_due_date_question_comes_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/profile")
    await bot.press(user, EN.raw("summary.change_due"))

    urgent, question = await bot.send(user, "there is blood when I wipe")

    assert "Bleeding" in urgent.plain_text
    assert "When is your baby due?" in question.plain_text
    await give_due_date(bot, user, "01/04/2027")
    async with bot.session() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == user.id)
        )
    assert resident is not None and resident.due_date is not None
    assert resident.due_date.isoformat() == "2027-04-01"


async def test_mid_feedback_each_question_comes_again_and_the_urgent_words_are_not_kept(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/feedback")

    urgent, rating = await bot.send(user, "I want to end it all")
    assert "Samaritans" in urgent.plain_text
    assert rating.button_texts() == ["1", "2", "3", "4", "5", "Not now"]

    await bot.press(user, "4", rating)
    urgent, lonely = await bot.send(user, "contractions every 5 minutes")
    assert "How often do you feel lonely?" in lonely.plain_text

    await bot.press(user, "Never", lonely)
    urgent, comment = await bot.send(user, "im bleeding quite heavily")
    assert "Bleeding" in urgent.plain_text
    assert comment.button_texts() == ["Skip"]
    async with bot.session() as session:
        assert await session.scalar(select(func.count()).select_from(FeedbackComment)) == 0

    [done] = await bot.send(user, "The group was lovely")
    assert "Thank you for your feedback" in done.plain_text
