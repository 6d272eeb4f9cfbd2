"""Sign-up: consent, due date, neighbourhood, name and summary, through the fake Bot API."""

from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.sandbox.fake_api import FakeTelegram
from bot.services.matching.suggestions import pool_member
from bot.services.residents.data_rights import export_personal_data
from bot.services.residents.retention import apply_retention
from bot.services.staff import join_links
from bot.texts import long_date
from models import (
    ConsentEvent,
    ConsentPurpose,
    Delivery,
    DeliveryStatus,
    Resident,
    ResidentStatus,
)
from tests.content_support import load_sample_into_bot
from tests.factories import (
    CHELMSFORD_POSTCODE,
    CHELMSFORD_WARD,
    TEST_KEY,
    at_area_step,
    give_consents,
    give_due_date,
    make_resident,
    new_resident_user,
    onboard,
)
from tests.harness import BotHarness


async def _resident(bot: BotHarness, telegram_id: int) -> Resident | None:
    async with bot.session() as session:
        return await session.scalar(
            select(Resident).where(Resident.telegram_user_id == telegram_id)
        )


async def _consent_events(bot: BotHarness) -> list[ConsentEvent]:
    async with bot.session() as session:
        return list(await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


async def test_new_resident_signs_up_end_to_end(bot: BotHarness, fake: FakeTelegram) -> None:
    amira = new_resident_user(fake, "Amira")
    await onboard(bot, amira)

    assert "You're all set, Amira" in bot.last(amira).plain_text
    resident = await _resident(bot, amira.id)
    assert resident is not None
    assert resident.status is ResidentStatus.ACTIVE
    assert resident.due_date == dt.date(2027, 3, 14)
    assert (resident.ward_code, resident.district_code) == ("E05015473", "E07000070")
    assert resident.display_name == "Amira"
    assert resident.onboarded_at == bot.clock.now()


async def test_welcome_names_the_council_as_controller_and_links_the_privacy_notice(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    sent = await bot.send(new_resident_user(fake), "/start")

    welcome = sent[0].plain_text
    assert "Essex County Council" in welcome
    assert "data controller" in welcome
    assert "/privacy" in welcome


async def test_each_consent_is_its_own_button_press_and_nothing_is_pre_ticked(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    sent = await bot.send(user, "/start")
    assert sent[-1].button_texts() == ["Yes, I agree", "No thanks"]

    asked = [(await bot.press(user, "Yes, I agree"))[-1].plain_text.split("\n")[0]]
    for choice in ("Yes please", "No thanks"):
        prompt = (await bot.press(user, choice))[-1]
        asked.append(prompt.plain_text.split("\n")[0])
    await bot.press(user, "No thanks")
    assert asked[0].startswith("Meeting other mums-to-be")
    assert asked[1].startswith("Local information")
    assert asked[2].startswith("Feedback")

    events = await _consent_events(bot)
    assert [(e.purpose, e.granted) for e in events] == [
        (ConsentPurpose.HEALTH_DATA, True),
        (ConsentPurpose.MATCHING, True),
        (ConsentPurpose.LOCAL_INFO, False),
        (ConsentPurpose.FEEDBACK, False),
    ]


async def test_consent_record_holds_notice_version_text_hash_button_and_source(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    async with bot.session() as session, session.begin():
        link = await join_links.create_join_link(session, "Broomfield", None, bot.clock.now())
    user = new_resident_user(fake)
    sent = await bot.send(user, f"/start {link.code}")
    shown = sent[-1].plain_text
    await bot.press(user, "Yes, I agree")

    [event] = await _consent_events(bot)
    assert event.purpose is ConsentPurpose.HEALTH_DATA and event.granted
    assert event.notice_version == bot.app.bot_data.settings.privacy_notice_version  # type: ignore[union-attr]
    assert event.text_sha256 == hashlib.sha256(shown.encode()).hexdigest()
    assert event.method == "button:ob:health:yes"
    assert event.source == link.code
    assert event.created_at == bot.clock.now()
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.signup_source == link.code


async def test_declining_required_consent_ends_kindly_and_keeps_only_the_refusal(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    sent = await bot.press(user, "No thanks")

    assert "That's completely fine" in sent[-1].plain_text
    assert "/start" in sent[-1].plain_text
    assert await _resident(bot, user.id) is None
    [refusal] = await _consent_events(bot)
    assert (refusal.purpose, refusal.granted) == (ConsentPurpose.HEALTH_DATA, False)
    # Nothing links the refusal to her.
    assert str(user.id) not in refusal.person_ref


async def test_declining_then_starting_again_signs_her_up(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "No thanks")
    await onboard(bot, user)

    resident = await _resident(bot, user.id)
    assert resident is not None and resident.status is ResidentStatus.ACTIVE


# DEFAULT_NOW is 30 November 2026.
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("14/03/2027", dt.date(2027, 3, 14)),
        ("14-3-27", dt.date(2027, 3, 14)),
        ("14 March 2027", dt.date(2027, 3, 14)),
        ("March 14th", dt.date(2027, 3, 14)),
        ("2027-03-14", dt.date(2027, 3, 14)),
        ("04/03/2027", dt.date(2027, 3, 4)),
        ("I'm 20 weeks", dt.date(2026, 11, 30) + dt.timedelta(days=280 - 140)),
        ("20+3", dt.date(2026, 11, 30) + dt.timedelta(days=280 - 143)),
    ],
)
async def test_due_date_is_understood_in_the_ways_people_write_it(
    bot: BotHarness, fake: FakeTelegram, typed: str, expected: dt.date
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due=typed)

    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date == expected


@pytest.mark.parametrize(
    ("typed", "reply_contains"),
    [
        ("soon", "didn't quite understand"),
        ("31/02/2027", "didn't quite understand"),
        ("01/01/2020", "in the past"),
        ("14/03/2028", "more than 42 weeks"),
        ("50 weeks", "0 to 42 weeks"),
        ("🤰" * 4000, "didn't quite understand"),
    ],
)
async def test_a_due_date_that_cannot_be_used_gets_a_helpful_reask_and_loses_nothing(
    bot: BotHarness, fake: FakeTelegram, typed: str, reply_contains: str
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    sent = await bot.send(user, typed)
    assert reply_contains in sent[-1].plain_text
    assert sent[-1].button_texts() == ["I don't know yet"]
    sent = await bot.send(user, "14/03/2027")
    assert "Sunday 14 March 2027" in sent[0].plain_text
    await bot.press(user, "Yes, that's right")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date == dt.date(2027, 3, 14)
    assert len(await _consent_events(bot)) == 4


async def test_area_question_offers_a_location_button(bot: BotHarness, fake: FakeTelegram) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, confirm=False)
    asked = next(m for m in fake.messages(user.id) if "Which neighbourhood" in m.plain_text)
    keyboard = asked.reply_markup or {}
    assert keyboard["keyboard"][0][0]["request_location"] is True


async def test_full_postcode_is_resolved_offline_and_only_the_ward_is_kept(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)
    sent = await bot.send(user, CHELMSFORD_POSTCODE.lower())

    assert f"{CHELMSFORD_WARD}, Chelmsford" in sent[0].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None
    assert resident.ward_code == "E05015473"
    assert CHELMSFORD_POSTCODE not in str(vars(resident))


async def test_postcode_district_offers_the_wards_it_covers(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)
    sent = await bot.send(user, "CM1")

    assert CHELMSFORD_WARD in sent[-1].button_texts()
    await bot.press(user, CHELMSFORD_WARD)
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.ward_code == "E05015473"


@pytest.mark.parametrize("typed", ["CM1", "CB2 1TN", "Choose from a list"])
async def test_a_sticker_while_she_chooses_her_area_from_buttons_shows_the_same_buttons(
    bot: BotHarness, fake: FakeTelegram, typed: str
) -> None:
    user = await at_area_step(bot, fake)
    card = (await bot.send(user, typed))[-1]

    again = await bot.send_media(user, "sticker")

    assert [m.plain_text for m in again] == [card.plain_text]
    assert again[0].button_texts() == card.button_texts()


async def test_after_a_new_search_a_sticker_gets_the_area_question_not_old_buttons(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)
    await bot.send(user, "CM1")
    await bot.send(user, "not a place at all 123")

    again = await bot.send_media(user, "sticker")

    assert "Please send your postcode" in again[-1].plain_text
    assert not again[-1].has_inline_keyboard


async def test_shared_location_resolves_to_a_ward(bot: BotHarness, fake: FakeTelegram) -> None:
    user = await at_area_step(bot, fake)
    sent = await bot.share_location(user, 51.73722, 0.47601)

    assert "Chelmsford" in sent[0].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.district_code == "E07000070"


async def test_district_then_ward_can_be_chosen_from_buttons(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)
    sent = await bot.send(user, "Choose from a list")
    assert "Southend-on-Sea" in sent[-1].button_texts()

    await bot.press(user, "Colchester")
    wards = bot.last_with_buttons(user).button_texts()
    assert "More ▸" in wards
    await bot.press(user, "More ▸")
    await bot.press(user, 0)

    resident = await _resident(bot, user.id)
    assert resident is not None and resident.district_code == "E07000071"


@pytest.mark.parametrize(
    ("typed", "reply_contains"),
    [
        ("hello there", "couldn't find that postcode or place"),
        ("SS88 1AA", "couldn't find that postcode"),
    ],
)
async def test_an_unknown_postcode_gets_a_kind_reask(
    bot: BotHarness, fake: FakeTelegram, typed: str, reply_contains: str
) -> None:
    user = await at_area_step(bot, fake)
    sent = await bot.send(user, typed)

    assert reply_contains in sent[-1].plain_text
    await bot.send(user, CHELMSFORD_POSTCODE)
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.ward_code == "E05015473"


async def test_outside_the_area_she_can_take_the_nearest_ward(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)
    sent = await bot.send(user, "CB2 1TN")

    assert "doesn't cover that area yet" in sent[-1].plain_text
    await bot.press(user, 0)
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.ward_code is not None


async def test_outside_the_area_she_can_ask_to_be_told_when_it_arrives(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)
    await bot.send(user, "SW1A 1AA")
    sent = await bot.press(user, "Tell me when it reaches me")

    assert "we'll let you know" in sent[-1].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None
    assert resident.status is ResidentStatus.WAITING_FOR_AREA
    assert resident.waiting_outcode == "SW1A"
    sent = await bot.send(user, "/start")
    assert "reaches your area" in sent[-1].plain_text


async def test_display_name_defaults_to_her_telegram_first_name(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, "Beatrice")
    await onboard(bot, user, confirm=False)

    assert "Beatrice" in bot.last(user).plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.display_name == "Beatrice"


async def test_an_oversized_html_name_is_refused_and_a_tagged_name_is_shown_escaped(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, name="<b>" + "🌸" * 4000 + "</b>", confirm=False)
    assert "up to 64 characters" in bot.last(user).plain_text

    sent = await bot.send(user, "<b>Jo</b> & 🌸")
    summary = sent[-1]
    assert "Name: <b>Jo</b> & 🌸" in summary.plain_text
    assert "&lt;b&gt;Jo&lt;/b&gt; &amp; 🌸" in (summary.text or "")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.display_name == "<b>Jo</b> & 🌸"


async def test_summary_buttons_change_an_item_and_come_back_to_the_summary(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, confirm=False)

    await bot.press(user, "Change due date")
    await bot.send(user, "1 April 2027")
    sent = await bot.press(user, "Yes, that's right")
    assert "Here's what you've told me" in sent[-1].plain_text
    assert "Thursday 1 April 2027" in sent[-1].plain_text
    await bot.press(user, "Change name")
    await bot.send(user, "Mo")
    await bot.press(user, "✅ That's right")

    resident = await _resident(bot, user.id)
    assert resident is not None
    assert (resident.due_date, resident.display_name) == (dt.date(2027, 4, 1), "Mo")
    assert resident.status is ResidentStatus.ACTIVE


async def test_profile_shows_her_details_and_edits_them_later(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    sent = await bot.send(user, "/profile")
    assert CHELMSFORD_WARD in sent[-1].plain_text
    await bot.press(user, "Change neighbourhood")
    sent = await bot.send(user, "CO1 1AA")
    assert "Your details" in sent[-1].plain_text
    assert "Castle, Colchester" in sent[-1].plain_text
    await bot.press(user, "Done")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.district_code == "E07000071"


async def test_restart_mid_signup_resumes_where_she_left_off(
    bot: BotHarness, fake: FakeTelegram, database_url: str
) -> None:
    user = await at_area_step(bot, fake)
    async with BotHarness.start(fake, database_url, bot.clock) as restarted:
        sent = await restarted.send(user, "/start")
        assert "carry on" in sent[0].plain_text
        assert "Which neighbourhood" in sent[-1].plain_text


async def test_two_residents_onboarding_at_once_do_not_mix(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    ana, bea = new_resident_user(fake, "Ana"), new_resident_user(fake, "Bea")
    for user in (ana, bea):
        await bot.send(user, "/start")
        await bot.press(user, "Yes, I agree")
    for user in (ana, bea):
        for _ in range(3):
            await bot.press(user, "Yes please")
    await bot.send(ana, "14/03/2027")
    await bot.send(bea, "20 weeks")
    await bot.send(ana, "yes")
    await bot.press(bea, "Yes, that's right")
    await bot.send(bea, "CO1 1AA")
    await bot.send(ana, "CM1 1AA")
    for user in (bea, ana):
        await bot.press(user, 0)
        await bot.press(user, "✅ That's right")

    first, second = await _resident(bot, ana.id), await _resident(bot, bea.id)
    assert first is not None and second is not None
    assert (first.display_name, first.ward_code, first.due_date) == (
        "Ana",
        "E05015473",
        dt.date(2027, 3, 14),
    )
    assert (second.display_name, second.district_code) == ("Bea", "E07000071")


async def test_pressing_an_old_consent_button_again_changes_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")
    matching_prompt = bot.last_with_buttons(user)
    await bot.press(user, "Yes please")
    before = len(await _consent_events(bot))

    await bot.press(user, "No thanks", message=matching_prompt)

    assert len(await _consent_events(bot)) == before
    assert bot.last_answer() is not None and "earlier message" in bot.last_answer()  # type: ignore[operator]


async def test_count_of_residents_is_one_after_double_tapping_agree(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    prompt = bot.last_with_buttons(user)
    await bot.press(user, "Yes, I agree", message=prompt)
    await bot.press(user, "Yes, I agree", message=prompt)

    async with bot.session() as session:
        assert await session.scalar(select(func.count()).select_from(Resident)) == 1


async def test_profile_done_button_closes_the_profile_kindly_instead_of_saying_it_expired(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    await bot.send(user, "/profile")
    await bot.press(user, "Done")

    assert bot.last_answer() == "👍 All saved."
    assert bot.fake.messages(user.id)[-1].reply_markup in (None, {})


async def test_each_consent_acknowledgement_says_which_answer_she_gave(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    cards = []
    for choice in ("Yes, I agree", "No thanks", "Yes please", "No thanks"):
        cards.append(bot.last_with_buttons(user))
        await bot.press(user, choice)
    acks = [card.plain_text.rsplit("\n\n", 1)[1] for card in cards]

    assert "happy for us to keep your pregnancy details" in acks[0]
    assert acks[1] == ("✅ Noted: no suggestions of other mums. You can change this in /privacy.")
    assert "yes to local information" in acks[2] and "/privacy" in acks[2]
    assert "no feedback questions" in acks[3] and "/privacy" in acks[3]


async def test_a_pressed_answer_is_noted_on_its_question_so_the_next_question_comes_at_once(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    # Telegram allows one message a second in her chat: a note of its own before each next
    # question held every question back by a second.
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    presses = ["Yes, I agree", "Yes please", "No thanks", "Yes please"]
    for choice in presses:
        question = bot.last_with_buttons(user)
        asked = question.plain_text
        sent = await bot.press(user, choice)

        assert len(sent) == 1, [m.plain_text for m in sent]
        assert question.plain_text.startswith(asked) and "✅" in question.plain_text
        assert not question.has_inline_keyboard
    await bot.send(user, "20 weeks")
    question = bot.last_with_buttons(user)
    sent = await bot.press(user, "Yes, that's right")

    assert [m.plain_text.split("\n")[0] for m in sent] == ["Which neighbourhood are you in?"]
    assert "Thank you – that's a due date of" in question.plain_text
    assert "<b>" in fake.calls_to("editMessageText")[-1].params["text"]


async def test_a_typed_answer_is_noted_in_a_message_of_its_own(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    sent = await bot.send(user, "yes")

    assert "Thank you – noted" in sent[0].plain_text
    assert sent[1].plain_text.startswith("Meeting other mums-to-be")


async def test_declining_matching_skips_the_name_and_the_promise_to_be_in_touch(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, "Dana")
    await onboard(bot, user, optional=(False, True, True))

    texts = [m.plain_text for m in fake.messages(user.id)]
    assert not any("What name would you like other mums to see" in t for t in texts)
    assert "You're all set, Dana" in texts[-1]
    assert "We'll be in touch as Bump Buddies grows near you" not in texts[-1]
    assert "/privacy" in texts[-1]
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.status is ResidentStatus.ACTIVE
    assert resident.display_name is None


async def test_turning_matching_on_later_asks_for_a_name_before_she_can_be_suggested(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, "Dana")
    await onboard(bot, user, optional=(False, True, True))

    await bot.send(user, "/privacy")
    await bot.press(user, "Turn on: meeting other mums")
    sent = await bot.press(user, "Yes please")
    assert "choose the name they'll see" in sent[-1].plain_text
    async with bot.session() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == user.id)
        )
        assert resident is not None
        assert not pool_member(resident).in_pool

    sent = await bot.press(user, "Choose my name")
    assert "What name would you like other mums to see" in sent[-1].plain_text
    sent = await bot.send(user, "Dee")
    assert "Name: Dee" in sent[-1].plain_text
    async with bot.session() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == user.id)
        )
        assert resident is not None and resident.display_name == "Dee"
        assert pool_member(resident).in_pool


# DEFAULT_NOW is Monday 30 November 2026.
@pytest.mark.parametrize(
    ("typed", "shown", "explains"),
    [
        ("14/03/2027", "Sunday 14 March 2027", "due on"),
        ("in 20 weeks", "Monday 19 April 2027", "20 weeks from today"),
        ("about 20 weeks", "Monday 19 April 2027", "20+0 weeks pregnant today"),
        ("20", "Monday 19 April 2027", "20+0 weeks pregnant today"),
        ("20+3", "Friday 16 April 2027", "20+3 weeks pregnant today"),
        ("May 2027", "Saturday 15 May 2027", "middle of May"),
        ("due in May", "Saturday 15 May 2027", "middle of May"),
        ("5 months", "Wednesday 7 April 2027", "5 months pregnant is about week 21"),
        ("in 5 months", "Friday 30 April 2027", "5 months from today"),
    ],
)
async def test_every_due_date_form_shows_the_date_and_stores_it_only_once_she_confirms(
    bot: BotHarness, fake: FakeTelegram, typed: str, shown: str, explains: str
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    sent = await bot.send(user, typed)
    assert shown in sent[-1].plain_text and explains in sent[-1].plain_text
    assert sent[-1].button_texts() == ["Yes, that's right", "No, let me change it"]
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date is None

    question = bot.last_with_buttons(user)
    sent = await bot.press(user, "Yes, that's right")
    assert f"Thank you – that's a due date of {shown}" in question.plain_text
    assert "Which neighbourhood" in sent[-1].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date is not None
    assert long_date(resident.due_date) == shown


async def test_typed_yes_and_no_answer_the_confirmation_and_no_asks_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await bot.send(user, "20 weeks")

    sent = await bot.send(user, "no")
    assert "when is your baby due?" in sent[-1].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date is None and resident.pending_due_date is None

    await bot.send(user, "14/03/2027")
    sent = await bot.send(user, "Yes")
    assert "Which neighbourhood" in sent[-1].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date == dt.date(2027, 3, 14)


async def test_anything_else_at_the_confirmation_repeats_the_question_with_its_date(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await bot.send(user, "14/03/2027")

    sent = await bot.send(user, "hmm <b>maybe</b>")
    assert "didn't catch that" in sent[-1].plain_text
    assert "Sunday 14 March 2027" in sent[-1].plain_text
    assert "Yes, that's right" in sent[-1].button_texts()
    sent = await bot.send(user, "2 April 2027")
    assert "Friday 2 April 2027" in sent[-1].plain_text
    await bot.press(user, "Yes, that's right")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date == dt.date(2027, 4, 2)


async def test_an_older_confirmation_button_cannot_store_a_newer_date(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await bot.send(user, "14/03/2027")
    first = bot.last_with_buttons(user)
    await bot.send(user, "2 April 2027")

    await bot.press(user, "Yes, that's right", message=first)

    assert bot.last_answer() is not None and "earlier message" in bot.last_answer()  # type: ignore[operator]
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date is None
    assert resident.pending_due_date == dt.date(2027, 4, 2)


async def test_a_day_first_date_out_of_range_says_how_it_was_read_and_offers_the_other(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    sent = await bot.send(user, "5/12/2027")
    assert "I read that as Sunday 5 December 2027, which is more than 42 weeks away" in (
        sent[-1].plain_text
    )
    assert "Did you mean Wednesday 12 May 2027?" in sent[-1].plain_text
    await bot.press(user, "Yes, that's right")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date == dt.date(2027, 5, 12)


async def test_a_day_first_date_with_no_sensible_reading_says_how_it_was_read(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    sent = await bot.send(user, "01/11/2026")
    assert "I read that as Sunday 1 November 2026." in sent[-1].plain_text
    assert "in the past" in sent[-1].plain_text


@pytest.mark.parametrize("how", ["button", "typed"])
async def test_not_knowing_the_due_date_yet_carries_on_and_asks_again_in_two_weeks(
    bot: BotHarness, fake: FakeTelegram, how: str
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    if how == "button":
        sent = await bot.press(user, "I don't know yet")
    else:
        sent = await bot.send(user, "I don't know yet")

    assert "I'll ask again on Monday 14 December 2026" in sent[0].plain_text
    assert "/services" in sent[0].plain_text
    assert "Which neighbourhood" in sent[-1].plain_text
    await bot.send(user, CHELMSFORD_POSTCODE)
    sent = await bot.press(user, 0)
    assert "Due date: not known yet" in sent[-1].plain_text
    await bot.press(user, "✅ That's right")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.status is ResidentStatus.ACTIVE
    assert resident.due_date is None and resident.due_date_unknown_since == bot.clock.now()

    engine = bot.app.bot_data.delivery
    assert engine is not None
    before = len(fake.messages(user.id))
    bot.clock.advance(dt.timedelta(days=13))
    await engine.run_until_idle()
    assert len(fake.messages(user.id)) == before
    bot.clock.advance(dt.timedelta(days=1))
    await engine.run_until_idle()
    reminder = bot.last(user)
    assert "Do you know it now?" in reminder.plain_text

    await bot.press(user, "Tell you my due date", message=reminder)
    await give_due_date(bot, user, "14/06/2027")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date == dt.date(2027, 6, 14)
    assert resident.due_date_unknown_since is None


async def test_giving_the_due_date_before_the_reminder_cancels_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="not sure yet")
    await bot.send(user, "/profile")
    await bot.press(user, "Change due date")
    await give_due_date(bot, user, "14/06/2027")

    engine = bot.app.bot_data.delivery
    assert engine is not None
    bot.clock.advance(dt.timedelta(days=15))
    await engine.run_until_idle()
    assert not any("Do you know it now?" in m.plain_text for m in fake.messages(user.id))
    async with bot.session() as session:
        statuses = list(await session.scalars(select(Delivery.status)))
    assert statuses == [DeliveryStatus.CANCELLED]


async def test_retention_counts_from_sign_up_while_the_due_date_is_unknown(
    sessions: async_sessionmaker[AsyncSession], clock: FixedClock
) -> None:
    signed_up = clock.now()
    async with sessions() as session, session.begin():
        await make_resident(session, signed_up, due_date=None, due_date_unknown_since=signed_up)
    notice_day = signed_up + relativedelta(months=12) - dt.timedelta(days=7)
    async with sessions() as session, session.begin():
        early = await apply_retention(
            session,
            notice_day - dt.timedelta(days=1),
            ZoneInfo("Europe/London"),
            months=12,
            notice_days=7,
            not_before=notice_day,
            safeguarding=TEST_KEY,
        )
        on_time = await apply_retention(
            session,
            notice_day,
            ZoneInfo("Europe/London"),
            months=12,
            notice_days=7,
            not_before=notice_day,
            safeguarding=TEST_KEY,
        )
    assert (early.notices, on_time.notices) == (0, 1)


async def test_a_restart_at_the_confirmation_continues_there(
    bot: BotHarness, fake: FakeTelegram, database_url: str
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)
    await bot.send(user, "20 weeks")
    question = bot.last_with_buttons(user)

    async with BotHarness.start(fake, database_url, bot.clock) as restarted:
        sent = await restarted.send(user, "/start")
        assert "Just to check: is your baby due on Monday 19 April 2027?" in sent[-1].plain_text
        sent = await restarted.press(user, "Yes, that's right", message=question)
        assert "Which neighbourhood" in sent[-1].plain_text


@pytest.mark.parametrize(
    ("typed", "ward", "district"),
    [
        ("Tiptree", "Tiptree", "E07000071"),
        ("moulsham & central", "Moulsham and Central", "E07000070"),
        ("MOULSHAM AND CENTRAL", "Moulsham and Central", "E07000070"),
    ],
)
async def test_a_ward_name_is_found_offline_without_a_geocoder(
    bot: BotHarness, fake: FakeTelegram, typed: str, ward: str, district: str
) -> None:
    assert bot.app.bot_data.place_search is None
    user = await at_area_step(bot, fake)

    sent = await bot.send(user, typed)

    assert f"{ward}, " in sent[0].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.district_code == district


async def test_a_town_name_offers_its_wards_and_the_rest_of_its_district(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)

    sent = await bot.send(user, "braintree")

    choice = sent[-1]
    assert "Braintree could be one of a few neighbourhoods" in choice.plain_text
    assert choice.button_texts()[:3] == [
        "Braintree Central & Beckers Green",
        "Braintree South",
        "Braintree West",
    ]
    assert "Another neighbourhood in Braintree" in choice.button_texts()
    await bot.press(user, "Another neighbourhood in Braintree")
    await bot.press(user, "Bocking North")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.district_code == "E07000067"


async def test_a_district_name_with_a_typo_still_offers_its_wards(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)

    sent = await bot.send(user, "Chelmsfrod")

    assert "Another neighbourhood in Chelmsford" in sent[-1].button_texts()
    await bot.press(user, "Another neighbourhood in Chelmsford")
    await bot.press(user, "More ▸")
    await bot.press(user, CHELMSFORD_WARD)
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.ward_code == "E05015473"


async def test_a_ward_name_shared_by_two_districts_asks_which(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await at_area_step(bot, fake)

    sent = await bot.send(user, "trinity")

    assert {"Trinity, Chelmsford", "Trinity, Rochford"} <= set(sent[-1].button_texts())
    await bot.press(user, "Trinity, Rochford")
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.district_code == "E07000075"


async def test_after_a_restart_her_next_answer_carries_on_without_start(
    bot: BotHarness, fake: FakeTelegram, database_url: str
) -> None:
    user = new_resident_user(fake)
    await give_consents(bot, user)

    async with BotHarness.start(fake, database_url, bot.clock) as restarted:
        sent = await restarted.send(user, "14/03/2027")
        assert "Sunday 14 March 2027" in sent[-1].plain_text
        sent = await restarted.send(user, "yes")
        assert "Which neighbourhood" in sent[-1].plain_text
        sent = await restarted.send(user, CHELMSFORD_POSTCODE)
        assert "What name would you like other mums to see" in sent[-1].plain_text
        sent = await restarted.send(user, "Amy")
        assert "Here's what you've told me" in sent[-1].plain_text
        await restarted.press(user, "✅ That's right")

    resident = await _resident(bot, user.id)
    assert resident is not None and resident.status is ResidentStatus.ACTIVE
    assert (resident.due_date, resident.display_name) == (dt.date(2027, 3, 14), "Amy")


async def test_after_a_restart_at_a_consent_question_a_message_asks_it_again(
    bot: BotHarness, fake: FakeTelegram, database_url: str
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")

    async with BotHarness.start(fake, database_url, bot.clock) as restarted:
        sent = await restarted.send(user, "hello?")
        assert "Meeting other mums-to-be" in sent[-1].plain_text
        assert sent[-1].button_texts() == ["Yes please", "No thanks"]


async def test_typing_where_a_button_is_needed_asks_the_same_question_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await bot.send(user, "/start")
    sent = await bot.send(user, "ok")
    assert "from the buttons" in sent[0].plain_text
    assert "Are you happy for us to keep these details?" in sent[-1].plain_text
    assert sent[-1].button_texts() == ["Yes, I agree", "No thanks"]

    await bot.press(user, "Yes, I agree")
    sent = await bot.send(user, "what?")
    assert "Meeting other mums-to-be" in sent[-1].plain_text

    await bot.press(user, "Yes please")
    await bot.press(user, "Yes please")
    await bot.press(user, "Yes please")
    await give_due_date(bot, user)
    await bot.send(user, CHELMSFORD_POSTCODE)
    await bot.press(user, 0)
    sent = await bot.send(user, "looks fine")
    assert "Here's what you've told me" in sent[-1].plain_text
    assert "✅ That's right" in sent[-1].button_texts()


async def test_with_the_due_date_unknown_she_is_told_suggestions_wait_for_it_and_mydata_says_so(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="no idea")

    assert "Once you know your due date" in bot.last(user).plain_text
    assert "We'll be in touch" not in bot.last(user).plain_text
    async with bot.session() as session:
        data = await export_personal_data(session, user.id, bot.clock.now())
    assert data is not None
    assert data["profile"]["due_date"] is None
    assert data["profile"]["due_date_unknown_since"] == bot.clock.now().isoformat()


async def test_saying_dont_know_from_profile_keeps_the_date_she_gave(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/profile")
    await bot.press(user, "Change due date")

    sent = await bot.press(user, "I don't know yet")

    assert "I'll keep your due date as Sunday 14 March 2027" in sent[0].plain_text
    resident = await _resident(bot, user.id)
    assert resident is not None and resident.due_date == dt.date(2027, 3, 14)
    assert resident.due_date_unknown_since is None


async def test_with_the_due_date_unknown_she_can_still_see_local_services(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, due="I don't know yet")
    await load_sample_into_bot(bot)

    [menu] = await bot.send(user, "/services")

    assert "Local services near you" in menu.plain_text
    assert menu.button_texts()
