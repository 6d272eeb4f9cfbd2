"""Choosing a language: her Telegram app's language starts it when offered, one tap on the
welcome switches before any consent, /language changes it any time, consent records the language
and the text she read, and the command menu is set in each language (issue 13 §3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.config import SettingsError
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.reports.sections import SECTIONS, Period, count_sections
from bot.services.reports.tables import protect_table
from bot.texts import load_catalogue
from models import ConsentEvent, ConsentText, Resident, StaffRole
from tests.factories import make_staff, new_resident_user, onboard
from tests.harness import BotHarness

POLISH, ROMANIAN, URDU = load_catalogue("pl"), load_catalogue("ro"), load_catalogue("ur")


@pytest.fixture
async def multilingual(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> AsyncIterator[BotHarness]:
    """The bot offering Polish, Romanian and Urdu (drafts, so allowed explicitly)."""
    async with BotHarness.start(
        fake, database_url, clock, languages="pl,ro,ur", allow_unreviewed_languages=True
    ) as harness:
        yield harness


async def _language_of(bot: BotHarness, telegram_user_id: int) -> str | None:
    async with bot.session() as session:
        return await session.scalar(
            select(Resident.language_code).where(Resident.telegram_user_id == telegram_user_id)
        )


async def test_her_telegram_language_starts_the_welcome_with_a_switch_to_the_others(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, language_code="pl")

    welcome, question = await multilingual.send(user, "/start")

    assert welcome.plain_text.startswith("Cześć Amira")
    assert welcome.button_texts() == ["Română", "اردو", "English"]
    assert question.button_texts()[0] == POLISH("button.agree")


async def test_a_language_not_offered_starts_in_english_with_no_switch(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, language_code="pl")

    welcome, question = await bot.send(user, "/start")

    assert welcome.plain_text.startswith("Hello Amira")
    assert welcome.button_texts() == []
    assert question.button_texts()[0] == "Yes, I agree"


async def test_one_tap_redraws_the_welcome_and_the_question_and_she_consents_in_it(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, language_code="en")
    welcome, _question = await multilingual.send(user, "/start")

    await multilingual.press(user, "Română", welcome)

    messages = fake.messages(user.id)
    assert len(messages) == 2  # both redrawn, nothing new to answer in English
    assert messages[0].plain_text.startswith("Bună")
    assert messages[1].plain_text.startswith("Mai întâi")
    read = messages[1].plain_text  # her answer is noted on this card once she presses
    await multilingual.press(user, ROMANIAN("button.agree"))

    assert await _language_of(multilingual, user.id) == "ro"
    async with multilingual.session() as session:
        event = (await session.scalars(select(ConsentEvent))).one()
        shown = await session.scalar(
            select(ConsentText.text).where(ConsentText.sha256 == event.text_sha256)
        )
    assert event.language == "ro"
    assert shown == read
    assert event.text_sha256 == hashlib.sha256(read.encode()).hexdigest()


async def test_language_changes_it_at_any_time_and_mydata_shows_it_and_forget_erases_it(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, language_code="en")
    await onboard(multilingual, user)
    assert await _language_of(multilingual, user.id) == "en"

    (choice,) = await multilingual.send(user, "/language")
    assert choice.button_texts() == ["Polski", "Română", "اردو"]  # she reads English now
    await multilingual.press(user, "اردو")

    assert multilingual.last(user).plain_text == URDU("language.changed")
    assert await _language_of(multilingual, user.id) == "ur"
    (help_text,) = await multilingual.send(user, "/help")
    assert help_text.plain_text.startswith("میں یہ کر سکتی ہوں")
    *_, sent = await multilingual.send(user, "/mydata")
    assert sent.document is not None
    assert json.loads(sent.document[1])["profile"]["language_code"] == "ur"

    await multilingual.send(user, "/forget")
    await multilingual.press(user, URDU("forget.yes"))
    assert await _language_of(multilingual, user.id) is None


async def test_a_forged_language_is_refused_and_nothing_changes(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, language_code="pl")
    await onboard_in_polish(multilingual, user)
    (choice,) = await multilingual.send(user, "/language")

    await multilingual.forge(user, choice, "lang:de")

    assert multilingual.last_answer() == POLISH("general.expired_button")
    assert await _language_of(multilingual, user.id) == "pl"


async def onboard_in_polish(bot: BotHarness, user: FakeUser) -> None:
    await bot.send(user, "/start")
    await bot.press(user, POLISH("button.agree"))


async def test_the_command_menu_is_set_in_every_language_offered(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    english = {c["command"]: c["description"] for c in fake.commands_for()}
    polish = {c["command"]: c["description"] for c in fake.commands_for(language_code="pl")}
    urdu = {c["command"]: c["description"] for c in fake.commands_for(language_code="ur")}

    assert english["language"] == "Choose your language"
    assert polish["language"] == POLISH("command.language")
    assert urdu["forget"] == URDU("command.forget")
    assert english.keys() == polish.keys() == urdu.keys()


def _chat_menu(fake: FakeTelegram, user: FakeUser) -> dict[str, str]:
    menu = fake.commands_for({"type": "chat", "chat_id": user.id})
    return {c["command"]: c["description"] for c in menu}


async def test_a_language_she_chooses_gives_her_chat_its_menu_and_forget_takes_it_away(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    # Her app is in English, so Telegram alone would show her the English menu.
    user = new_resident_user(fake, language_code="en")
    await onboard(multilingual, user)
    assert _chat_menu(fake, user) == {}

    await multilingual.send(user, "/language")
    await multilingual.press(user, "Polski")

    assert _chat_menu(fake, user)["language"] == POLISH("command.language")
    assert _chat_menu(fake, user).keys() == {c["command"] for c in fake.commands_for()}
    await multilingual.send(user, "/forget")
    await multilingual.press(user, POLISH("forget.yes"))
    assert _chat_menu(fake, user) == {}


async def test_the_welcome_switch_sets_her_chat_menu_too(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, language_code="pl")
    welcome, _ = await multilingual.send(user, "/start")

    await multilingual.press(user, "Română", message=welcome)

    assert _chat_menu(fake, user)["forget"] == ROMANIAN("command.forget")


async def test_staff_choosing_a_language_keep_their_staff_menu(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake, language_code="en")
    async with multilingual.session() as session, session.begin():
        await make_staff(session, multilingual.clock.now(), StaffRole.MIDWIFE, user.id)
    await onboard(multilingual, user)
    staff_menu = _chat_menu(fake, user)
    await multilingual.send(user, "/language")
    await multilingual.press(user, "Polski")

    # Staff sync owns a staff member's chat menu (English, with her staff commands).
    assert _chat_menu(fake, user) == staff_menu


async def test_an_unreviewed_language_is_refused_at_start_up(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    with pytest.raises(SettingsError, match="'ur' is not reviewed"):
        async with BotHarness.start(fake, database_url, clock, languages="ur"):
            pass


async def test_council_reports_count_sign_ups_and_consents_by_language_rounded_like_every_count(
    multilingual: BotHarness, fake: FakeTelegram
) -> None:
    for n in range(6):
        await onboard(multilingual, new_resident_user(fake, f"Mum{n}", language_code="en"))
    polish = new_resident_user(fake, "Ola", language_code="pl")
    await multilingual.send(polish, "/start")
    await multilingual.press(polish, POLISH("button.agree"))
    zone = multilingual.app.bot_data.settings.zone  # type: ignore[union-attr]
    period = Period.last_months(multilingual.clock.now().date(), 1, zone)
    wanted = [s for s in SECTIONS if s.slug in ("signups_by_language", "consent_by_language")]
    gazetteer = multilingual.app.bot_data.gazetteer
    assert gazetteer is not None

    async with multilingual.session() as session:
        signups, consents = await count_sections(session, period, gazetteer, wanted)

    month = period.months()[-1]
    assert signups.cells == {(month, "English"): 6}  # Ola has not finished signing up
    assert consents.cells == {(month, "English"): 6, (month, "Polish"): 1}
    shown = protect_table(consents).cells
    # One Polish answer is a small number: rounded to 0 like every other count staff see.
    assert shown[(month, "English")] == 5
    assert shown.get((month, "Polish"), 0) == 0
