"""Feedback through the fake Bot API: /feedback, our questions at moments, skipping and stopping."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from bot.context import BotContext
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.texts import catalogue
from models import (
    ConsentEvent,
    ConsentPurpose,
    FeedbackComment,
    FeedbackMoment,
    FeedbackPrompt,
    FeedbackResponse,
    Loneliness,
    PromptStatus,
    Resident,
)
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness

FORTNIGHT = dt.timedelta(days=14)
EN = catalogue("en")


async def _run_prompt_job(bot: BotHarness) -> None:
    """What the hourly job does, run now on the test's clock."""
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name("feedback_prompts")
    await job.callback(BotContext.from_job(job, bot.app))
    await bot.send_queued()


async def _responses(bot: BotHarness) -> list[FeedbackResponse]:
    async with bot.session() as session:
        return list(await session.scalars(select(FeedbackResponse).order_by(FeedbackResponse.id)))


async def _comments(bot: BotHarness) -> list[str]:
    async with bot.session() as session:
        return list(await session.scalars(select(FeedbackComment.text)))


async def _prompt_statuses(bot: BotHarness) -> list[PromptStatus]:
    async with bot.session() as session:
        return list(
            await session.scalars(select(FeedbackPrompt.status).order_by(FeedbackPrompt.id))
        )


async def _signed_up(bot: BotHarness, fake: FakeTelegram, feedback: bool = True) -> FakeUser:
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(True, True, feedback))
    return user


async def _asked_two_weeks_in(bot: BotHarness, fake: FakeTelegram) -> tuple[FakeUser, SentMessage]:
    user = await _signed_up(bot, fake)
    bot.clock.advance(FORTNIGHT)
    await _run_prompt_job(bot)
    return user, bot.last(user)


async def test_feedback_asks_a_rating_then_loneliness_then_a_comment_and_keeps_each(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)

    [question] = await bot.send(user, "/feedback")
    assert "How would you rate Bump Buddies" in question.plain_text
    assert "never with your name" in question.plain_text
    assert question.button_texts() == ["1", "2", "3", "4", "5", "Not now"]

    thanks, lonely = await bot.press(user, "4")
    assert "Thank you" in thanks.plain_text
    assert "How often do you feel lonely?" in lonely.plain_text
    assert lonely.button_texts() == [
        "Often or always",
        "Some of the time",
        "Occasionally",
        "Hardly ever",
        "Never",
        "I'd rather not say",
    ]
    [ask_comment] = await bot.press(user, "Hardly ever")
    assert "leave out names, phone numbers and addresses" in ask_comment.plain_text

    [done] = await bot.send(user, "The antenatal group was <b>lovely</b>")

    assert "Thank you for your feedback" in done.plain_text
    [response] = await _responses(bot)
    assert (response.rating, response.loneliness) == (4, Loneliness.HARDLY_EVER)
    assert response.moment is FeedbackMoment.ANYTIME
    assert response.district_code == "E07000070"
    assert await _comments(bot) == ["The antenatal group was <b>lovely</b>"]


async def test_each_step_can_be_skipped_and_the_rating_alone_is_kept(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    await bot.send(user, "/feedback")
    await bot.press(user, "2")

    await bot.press(user, "I'd rather not say")
    [done] = await bot.press(user, "Skip")

    assert "Thank you for your feedback" in done.plain_text
    [response] = await _responses(bot)
    assert (response.rating, response.loneliness) == (2, None)
    assert await _comments(bot) == []


async def test_not_now_saves_nothing(bot: BotHarness, fake: FakeTelegram) -> None:
    user = await _signed_up(bot, fake)
    await bot.send(user, "/feedback")

    [sent] = await bot.press(user, "Not now")

    assert "nothing has been saved" in sent.plain_text
    assert await _responses(bot) == []


async def test_feeling_lonely_often_is_met_with_support_as_well_as_thanks(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    await bot.send(user, "/feedback")
    await bot.press(user, "3")

    support, ask_comment = await bot.press(user, "Often or always")

    assert "you don't have to cope on your own" in support.plain_text
    assert "116 123" in support.plain_text
    assert "anything else you'd like to tell us" in ask_comment.plain_text


async def test_someone_who_has_not_signed_up_is_pointed_to_start(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    [sent] = await bot.send(new_resident_user(fake), "/feedback")
    assert "Send /start" in sent.plain_text
    assert sent.button_texts() == []


async def test_feedback_about_a_directory_service_keeps_which_service(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)

    [question] = await bot.send(user, "/feedback chelmsford_bumps_and_babies")
    await bot.press(user, "5")
    await bot.press(user, "Never")
    await bot.send(user, "Brilliant volunteers")

    assert "How would you rate chelmsford_bumps_and_babies?" in question.plain_text
    [response] = await _responses(bot)
    assert response.service_ref == "chelmsford_bumps_and_babies"
    async with bot.session() as session:
        comment = await session.scalar(select(FeedbackComment))
    assert comment is not None and comment.service_ref == "chelmsford_bumps_and_babies"


async def test_a_rate_this_button_on_a_directory_entry_starts_feedback_about_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    listing = bot.last(user)

    [question] = await bot.forge(user, listing, "fb:about:clinic_7")
    await bot.press(user, "3")

    assert "How would you rate clinic_7?" in question.plain_text
    [response] = await _responses(bot)
    assert response.service_ref == "clinic_7"


async def test_a_rating_button_from_an_earlier_feedback_message_does_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    [older] = await bot.send(user, "/feedback")
    await bot.send(user, "/feedback")

    await bot.press(user, "1", message=older)

    assert await _responses(bot) == []
    assert bot.last_answer() == EN("feedback.stale")


async def test_forged_feedback_buttons_do_nothing_and_say_so(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    [question] = await bot.send(user, "/feedback")

    for data in ("fb:r:00000000:5", "fb:l:00000000:often", "fb:p:999:5", "fb:p:1:stop", "fb:zz"):
        await bot.forge(user, question, data)
        assert bot.last_answer() == EN("feedback.stale")

    assert await _responses(bot) == []


async def test_a_long_comment_is_sent_back_to_be_shortened(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    await bot.send(user, "/feedback")
    await bot.press(user, "4")
    await bot.press(user, "Never")

    [sent] = await bot.send(user, "x" * 2001)

    assert "under 2000 characters" in sent.plain_text
    assert await _comments(bot) == []


async def test_two_weeks_after_joining_she_is_asked_how_it_is_going(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user, question = await _asked_two_weeks_in(bot, fake)

    assert "two weeks now" in question.plain_text
    assert question.button_texts() == ["1", "2", "3", "4", "5", "Not this time", "Stop asking me"]
    assert all(len(data.encode()) <= 64 for data in question.callback_data())

    await bot.press(user, "5")
    await bot.press(user, "Some of the time")
    await bot.press(user, "Skip")

    [response] = await _responses(bot)
    assert (response.rating, response.moment) == (5, FeedbackMoment.TWO_WEEKS)
    assert response.loneliness is Loneliness.SOME_OF_THE_TIME
    assert await _prompt_statuses(bot) == [PromptStatus.ANSWERED]


async def test_the_question_is_asked_only_once_even_if_the_job_runs_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user, _ = await _asked_two_weeks_in(bot, fake)
    before = len(fake.messages(user.id))

    bot.clock.advance(dt.timedelta(hours=1))
    await _run_prompt_job(bot)

    assert len(fake.messages(user.id)) == before


async def test_no_question_without_the_feedback_consent(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake, feedback=False)
    before = len(fake.messages(user.id))

    bot.clock.advance(FORTNIGHT)
    await _run_prompt_job(bot)

    assert len(fake.messages(user.id)) == before


async def test_no_question_in_quiet_hours_it_waits_for_the_morning(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    before = len(fake.messages(user.id))
    # 10:00 + 14 days + 12 hours is 22:00 in winter (GMT).
    bot.clock.advance(FORTNIGHT + dt.timedelta(hours=12))

    await _run_prompt_job(bot)
    assert len(fake.messages(user.id)) == before

    bot.clock.advance(dt.timedelta(hours=10))
    await _run_prompt_job(bot)
    assert "two weeks now" in bot.last(user).plain_text


async def test_not_this_time_skips_the_question_kindly(bot: BotHarness, fake: FakeTelegram) -> None:
    user, _ = await _asked_two_weeks_in(bot, fake)

    [sent] = await bot.press(user, "Not this time")

    assert "No problem at all" in sent.plain_text
    assert await _prompt_statuses(bot) == [PromptStatus.SKIPPED]
    assert await _responses(bot) == []


async def test_stop_asking_me_withdraws_the_feedback_consent_as_a_recorded_choice(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user, question = await _asked_two_weeks_in(bot, fake)
    stop = question.callback_data()[-1]

    [sent] = await bot.press(user, "Stop asking me")

    assert "we won't ask you for feedback again" in sent.plain_text
    async with bot.session() as session:
        latest = await session.scalar(select(ConsentEvent).order_by(ConsentEvent.id.desc()))
    assert latest is not None
    assert (latest.purpose, latest.granted) == (ConsentPurpose.FEEDBACK, False)
    assert latest.method.startswith("button:fb:p:") and latest.method.endswith(":stop")
    assert latest.source == "feedback_question"
    [choices] = (await bot.send(user, "/privacy"))[1:]
    assert "Feedback questions: no" in choices.plain_text

    # A replayed press changes nothing more.
    count = len(await _events(bot))
    await bot.forge(user, question, stop)
    assert len(await _events(bot)) == count
    assert bot.last_answer() == EN("feedback.stale")


async def _events(bot: BotHarness) -> list[ConsentEvent]:
    async with bot.session() as session:
        return list(await session.scalars(select(ConsentEvent)))


async def test_a_question_to_someone_who_blocked_the_bot_is_not_retried(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    fake.block_bot(user)
    bot.clock.advance(FORTNIGHT)
    await _run_prompt_job(bot)
    tried = len(fake.calls_to("sendMessage"))

    bot.clock.advance(dt.timedelta(hours=1))
    await _run_prompt_job(bot)

    assert len(fake.calls_to("sendMessage")) == tried
    async with bot.session() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == user.id)
        )
    assert resident is not None and resident.unreachable_since is not None


async def test_a_question_that_failed_to_send_is_tried_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    bot.clock.advance(FORTNIGHT)
    fake.fail_next("sendMessage", error_code=500, description="Internal Server Error")

    await _run_prompt_job(bot)

    assert "two weeks now" in bot.last(user).plain_text
    assert await _prompt_statuses(bot) == [PromptStatus.SENT]


async def test_another_feature_can_note_a_moment_and_the_question_follows_a_week_later(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await _signed_up(bot, fake)
    from bot.services.feedback import note_feedback_moment

    async with bot.session() as session, session.begin():
        resident = await session.scalar(select(Resident))
        assert resident is not None
        await note_feedback_moment(
            session, resident.id, FeedbackMoment.AFTER_INTRODUCTION, bot.clock.now()
        )
    bot.clock.advance(dt.timedelta(days=7))
    await _run_prompt_job(bot)

    assert "introduced to another mum-to-be" in bot.last(user).plain_text


async def test_mydata_includes_her_feedback(bot: BotHarness, fake: FakeTelegram) -> None:
    user = await _signed_up(bot, fake)
    await bot.send(user, "/feedback")
    await bot.press(user, "4")
    await bot.press(user, "Occasionally")
    await bot.send(user, "Thank you all")

    *_, sent = await bot.send(user, "/mydata")

    assert sent.document is not None
    data = json.loads(sent.document[1])
    [rating] = data["feedback"]["ratings"]
    assert (rating["rating"], rating["loneliness"]) == (4, "occasionally")
    assert data["feedback"]["comments"][0]["text"] == "Thank you all"


async def test_forget_erases_her_feedback_ratings_comments_and_questions(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user, _ = await _asked_two_weeks_in(bot, fake)
    await bot.press(user, "3")
    await bot.press(user, "Never")
    await bot.send(user, "Quillfeather says hello")

    await bot.send(user, "/forget")
    await bot.press(user, "Yes, delete everything")

    assert await _responses(bot) == []
    assert await _comments(bot) == []
    assert await _prompt_statuses(bot) == []


def test_every_feedback_text_built_at_run_time_exists() -> None:
    keys = {f"feedback.prompt_{m.value}" for m in FeedbackMoment if m != FeedbackMoment.ANYTIME}
    keys |= {f"feedback.rating_{n}" for n in range(1, 6)}
    keys |= {f"feedback.{answer.value}" for answer in Loneliness}
    assert keys <= EN.keys()
