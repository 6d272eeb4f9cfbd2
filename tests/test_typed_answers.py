"""Typed answers where buttons are shown, and "I don't understand" that always asks again."""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from sqlalchemy import select

from bot.sandbox.fake_api import FakeTelegram
from bot.services.conversations.answers import read_plain_yes_no
from bot.texts import catalogue
from models import (
    Broadcast,
    BroadcastStatus,
    ConsentEvent,
    ConsentPurpose,
    LifeEvent,
    MatchReport,
    Resident,
    StaffMember,
    StaffRole,
)
from tests.factories import give_consents, new_resident_user, onboard
from tests.harness import BotHarness
from tests.test_broadcast import broadcaster, card, compose, residents
from tests.test_life_events import _signed_up_with_a_week_message
from tests.test_matching_safety import _hello
from tests.test_matching_support import join, requests
from tests.test_staff import invitation, staff_user

EN = catalogue("en")

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


def _plain(key: str) -> str:
    """A catalogue message as Telegram shows it: no HTML tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", EN(key))).strip()


# Every Yes/No question the bot asks with buttons, outside sign-up's own steps, takes a typed
# answer through the one reader (bot/services/conversations/answers.py).
TYPED_YES = ["yes", "Yes please!", "y", "Yeah."]
TYPED_NO = ["no", "No thanks.", "N", "nope"]


@pytest.mark.parametrize("typed", TYPED_YES)
async def test_a_typed_yes_to_forget_erases_her_like_the_button(
    bot: BotHarness, fake: FakeTelegram, typed: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/forget")

    replies = await bot.send(user, typed)

    assert "deleted" in replies[-1].plain_text.lower()
    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is None


@pytest.mark.parametrize("typed", TYPED_NO)
async def test_a_typed_no_to_forget_keeps_everything_like_the_button(
    bot: BotHarness, fake: FakeTelegram, typed: str
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    [question] = await bot.send(user, "/forget")

    replies = await bot.send(user, typed)

    assert replies[-1].plain_text == _plain("forget.kept")
    assert question.button_texts() == []
    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is not None


async def test_a_yes_typed_after_she_moved_on_does_not_answer_an_old_question(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/forget")
    await bot.send(user, "/help")

    await bot.send(user, "yes")

    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is not None


async def test_anything_else_at_the_forget_question_asks_it_again_and_yes_still_works(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/forget")

    sorry, again = await bot.send(user, "hmm, not sure")
    assert "type yes or no" in sorry.plain_text
    assert again.button_texts() == ["Yes, delete everything", "No, keep my details"]
    await bot.send(user, "Yes")

    async with bot.session() as session:
        assert await session.scalar(select(Resident)) is None


@pytest.mark.parametrize(("typed", "granted"), [("yes please", True), ("No thanks", False)])
async def test_a_typed_answer_to_turning_a_choice_on_in_privacy_is_recorded_as_typed(
    bot: BotHarness, fake: FakeTelegram, typed: str, granted: bool
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(True, False, True))
    *_, choices = await bot.send(user, "/privacy")
    await bot.press(user, "Turn on: local information")
    shown = choices.plain_text  # redrawn as the explanation, with Yes/No buttons

    await bot.send(user, typed)

    async with bot.session() as session:
        resident = await session.scalar(select(Resident))
        latest = await session.scalar(
            select(ConsentEvent)
            .where(ConsentEvent.purpose == ConsentPurpose.LOCAL_INFO)
            .order_by(ConsentEvent.id.desc())
        )
    assert resident is not None and resident.local_info_consent is granted
    assert latest is not None
    if granted:
        assert latest.method == "typed:yes" and latest.granted
        assert latest.text_sha256 == hashlib.sha256(shown.encode()).hexdigest()
    else:
        assert latest.method.startswith("button:")  # sign-up's no: nothing new was recorded


@pytest.mark.parametrize(("typed", "stopped"), [("Yes", True), ("no thanks", False)])
async def test_a_typed_answer_to_stop_pregnancy_messages_works_like_the_buttons(
    bot: BotHarness, fake: FakeTelegram, typed: str, stopped: bool
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/baby")
    await bot.press(user, "I'm no longer pregnant")

    replies = await bot.send(user, typed)

    async with bot.session() as session:
        event = await session.scalar(select(LifeEvent))
    assert (event is not None) is stopped
    if not stopped:
        assert replies[-1].plain_text == _plain("life.ended_kept")


@pytest.mark.parametrize(("typed", "filed"), [("y", True), ("n", False)])
async def test_a_typed_answer_to_report_someone_works_like_the_buttons(
    bot: BotHarness, fake: FakeTelegram, typed: str, filed: bool
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await _hello(bot, fake, amira, "Bea")
    await bot.send(bea, "hello")
    await bot.press(bea, "⚠️ Report", message=requests(fake, bea)[-1])

    replies = await bot.send(bea, typed)

    async with bot.session() as session:
        report = await session.scalar(select(MatchReport))
    assert (report is not None) is filed
    if not filed:
        assert replies[-1].plain_text == _plain("match.report.cancelled")


@pytest.mark.parametrize(("typed", "removed"), [("YES", True), ("No.", False)])
async def test_a_typed_answer_to_removing_staff_access_works_like_the_buttons(
    bot: BotHarness, fake: FakeTelegram, typed: str, removed: bool
) -> None:
    admin = await staff_user(bot, fake, StaffRole.ADMIN)
    midwife = fake.new_user("Nadia")
    await bot.send(midwife, f"/start {await invitation(bot, admin)}")
    async with bot.session() as session:
        number = await session.scalar(
            select(StaffMember.id).where(StaffMember.telegram_user_id == midwife.id)
        )
    await bot.send(admin, "/staff")
    await bot.press(admin, f"Remove staff access for #{number}")

    replies = await bot.send(admin, typed)

    async with bot.session() as session:
        member = await session.get(StaffMember, number)
    assert member is not None and (member.revoked_at is not None) is removed
    if not removed:
        assert replies[-1].plain_text == _plain("staff.revoke_kept")


async def test_a_typed_yes_confirms_a_broadcast_like_the_button(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 1)
    await compose(bot, sender, "Drop-in clinic")
    await bot.press(sender, "Send now")

    await bot.send(sender, "yes")

    async with bot.session() as session:
        sent = await session.scalar(select(Broadcast))
    assert sent is not None and sent.status is not BroadcastStatus.DRAFT


async def test_a_typed_no_to_a_broadcast_goes_back_to_its_card(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sender = await broadcaster(bot, fake)
    await residents(bot, fake, 1)
    await compose(bot, sender, "Drop-in clinic")
    await bot.press(sender, "Send now")

    await bot.send(sender, "no")

    async with bot.session() as session:
        draft = await session.scalar(select(Broadcast))
    assert draft is not None and draft.status is BroadcastStatus.DRAFT
    assert "Send now" in card(bot, sender).button_texts()


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        *[(t, True) for t in ("yes", "Yes please", "y", "yeah", "YES!", "Yep.", "yes,")],
        *[(t, False) for t in ("no", "No thanks", "n", "NO!", "nope.", "no thank you")],
        *[(t, None) for t in ("ok", "sure", "maybe", "yes no", "", "yes" * 30)],
    ],
)
def test_the_one_reader_takes_a_plain_yes_or_no_in_any_case_with_punctuation(
    typed: str, said: bool | None
) -> None:
    assert read_plain_yes_no(typed) is said
