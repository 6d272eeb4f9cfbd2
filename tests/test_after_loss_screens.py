"""After "I'm no longer pregnant" and "keep my account": every screen tells the same story."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from bot.clock import FixedClock
from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from models import ConsentEvent, ConsentPurpose, LifeEvent
from tests.content_support import load_sample_into_bot, queued
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness
from tests.test_life_events import _resident, _sessions
from tests.test_matching_support import card_for, join


async def kept_for_local_info(
    bot: BotHarness, fake: FakeTelegram, *, local_info: bool = False
) -> FakeUser:
    """She signed up (local information as given), then told us her pregnancy ended, and kept
    her account for local information."""
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(True, local_info, True))
    await bot.send(user, "/baby")
    await bot.press(user, "I'm no longer pregnant")
    await bot.press(user, "Yes, please stop them")
    await bot.press(user, "Keep my account for local info")
    return user


def _choices(messages: list[SentMessage]) -> SentMessage:
    return next(m for m in messages if "Your choices" in m.plain_text)


async def test_keeping_her_account_turns_local_information_on_as_promised(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = await kept_for_local_info(bot, fake, local_info=False)

    choices = _choices(await bot.send(user, "/privacy"))
    await load_sample_into_bot(bot)
    for _ in range(3):
        clock.advance(dt.timedelta(days=7))
        await jobs.run_daily(bot.app)

    assert "Local information: yes" in choices.plain_text
    resident = await _resident(bot)
    assert resident.local_info_consent
    keys = await queued(_sessions(bot), resident.id)
    assert keys and all(k == "services:perinatal_mental_health" for k in keys)
    async with bot.session() as session:
        granted = await session.scalar(
            select(ConsentEvent).where(
                ConsentEvent.purpose == ConsentPurpose.LOCAL_INFO, ConsentEvent.granted
            )
        )
    assert granted is not None and granted.source == "life_events"


async def test_after_a_loss_privacy_does_not_offer_meeting_other_mums(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await kept_for_local_info(bot, fake, local_info=True)

    choices = _choices(await bot.send(user, "/privacy"))
    await bot.forge(user, choices, "pv:matching:on")

    assert "Meeting other mums: no" in choices.plain_text
    assert "no longer pregnant" in choices.plain_text
    assert not any("meeting other mums" in b for b in choices.button_texts())
    assert "no longer pregnant" in str(bot.last_answer())
    resident = await _resident(bot)
    assert not resident.matching_consent


async def test_after_a_loss_profile_shows_no_due_date_or_weeks(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await kept_for_local_info(bot, fake)

    [profile] = await bot.send(user, "/profile")

    assert "Due date" not in profile.plain_text
    assert "March 2027" not in profile.plain_text
    assert "weeks now" not in profile.plain_text
    assert "no longer pregnant" in profile.plain_text
    assert "Change due date" not in profile.button_texts()
    assert "Change name" not in profile.button_texts()


async def test_an_old_profile_button_cannot_set_a_due_date_after_a_loss(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    [old_profile] = await bot.send(user, "/profile")
    await bot.send(user, "/baby")
    await bot.press(user, "I'm no longer pregnant")
    await bot.press(user, "Yes, please stop them")

    sent = await bot.press(user, "Change due date", old_profile)

    assert sent == []
    assert "no longer pregnant" in str(bot.last_answer())


async def test_after_a_loss_match_explains_kindly_instead_of_offering_to_turn_it_on(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await kept_for_local_info(bot, fake)

    [reply] = await bot.send(user, "/match")

    assert "meeting other mums" not in reply.plain_text
    assert "no longer pregnant" in reply.plain_text


async def test_after_keeping_her_account_baby_says_what_she_gets_and_asks_nothing_again(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await kept_for_local_info(bot, fake)

    sent = await bot.send(user, "/baby")

    assert len(sent) == 1
    assert sent[0].button_texts() == []
    assert "general local information" in sent[0].plain_text
    assert "/forget" in sent[0].plain_text


async def test_confirming_the_loss_records_both_withdrawals_with_what_she_was_shown(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/baby")
    [confirm] = await bot.press(user, "I'm no longer pregnant")
    await bot.press(user, "Yes, please stop them")

    document = next(m for m in await bot.send(user, "/mydata") if m.document)
    choices = _choices(await bot.send(user, "/privacy"))

    assert "suggesting other mums" in confirm.plain_text
    assert "Local information: no" in choices.plain_text
    exported = json.loads(document.document[1]) if document.document else {}
    latest = {e["purpose"]: e["granted"] for e in exported["consent_history"]}
    assert latest["matching"] is False and latest["local_info"] is False
    async with bot.session() as session:
        event = await session.scalar(select(LifeEvent))
    assert event is not None and not event.keep_local_info


async def test_turning_local_information_on_in_privacy_after_a_loss_is_keeping_her_account(
    bot: BotHarness, fake: FakeTelegram, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await bot.send(user, "/baby")
    await bot.press(user, "I'm no longer pregnant")
    await bot.press(user, "Yes, please stop them")

    await bot.send(user, "/privacy")
    await bot.press(user, "Turn on: local information")
    await bot.press(user, "Yes please")
    await load_sample_into_bot(bot)
    for _ in range(3):
        clock.advance(dt.timedelta(days=7))
        await jobs.run_daily(bot.app)

    keys = await queued(_sessions(bot), (await _resident(bot)).id)
    assert keys == ["services:perinatal_mental_health"]


async def test_her_card_leaves_other_mums_chats_as_soon_as_she_tells_us(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    bea = await join(bot, fake, "Bea")
    await bot.send(bea, "/match")
    card = card_for(fake, bea, "Amira")

    await bot.send(amira, "/baby")
    await bot.press(amira, "I'm no longer pregnant")
    await bot.press(amira, "Yes, please stop them")

    assert card.plain_text == "This suggestion is no longer available."
