"""Suggestions, hellos and introductions via the fake Bot API: nothing shared until both agree."""

from __future__ import annotations

import datetime as dt

from bot.sandbox.fake_api import FakeTelegram
from models import IntroductionStatus
from tests.factories import CHELMSFORD_POSTCODE
from tests.harness import BotHarness
from tests.test_matching_support import (
    card_for,
    introductions,
    join,
    knows_contact_of,
    requests,
    run_matching_job,
)

LONDON = dt.UTC  # Winter: UK time is UTC, far from any clock change.


async def test_sign_up_with_matching_consent_ends_with_an_offer_to_meet_mums_near_her(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    amira = await join(bot, fake, "Amira")
    no_matching = await join(bot, fake, "Bea", matching=False)

    assert "You're all set, Amira" in bot.last(amira).plain_text
    assert bot.last(amira).button_texts() == ["👋 Show me mums near me"]
    assert bot.last(no_matching).button_texts() == []


async def test_match_shows_up_to_three_cards_with_only_name_area_and_due_month(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    others = [await join(bot, fake, n, username=f"{n.lower()}_x") for n in ("Bea", "Cat", "Dee")]
    await join(bot, fake, "Eve", due="10/04/2027")
    amira = await join(bot, fake, "Amira")

    sent = await bot.press(amira, "👋 Show me mums near me")

    assert "Mums-to-be near you" in sent[0].plain_text
    shown = sent[1:]
    assert [m.plain_text.splitlines()[0] for m in shown] == ["👤 Bea", "👤 Cat", "👤 Dee"]
    for card in shown:
        assert "🏡 Moulsham and Central, Chelmsford" in card.plain_text
        assert "📅 Due March 2027" in card.plain_text
        assert card.button_texts() == ["👋 Say hello", "🚫 Block", "⚠️ Report"]
        assert CHELMSFORD_POSTCODE not in card.plain_text and "14" not in card.plain_text
    for other in others:
        assert not knows_contact_of(fake, amira, other)


async def test_nobody_near_yet_is_said_kindly(bot: BotHarness, fake: FakeTelegram) -> None:
    amira = await join(bot, fake, "Amira")
    await join(bot, fake, "Far", area="CO1 1AA")

    sent = await bot.send(amira, "/match")

    assert "nobody near you due around the same time just yet" in sent[-1].plain_text


async def test_saying_hello_sends_her_the_same_limited_details_and_no_contact_either_way(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea", username="bea_mum")
    amira = await join(bot, fake, "Amira", username="amira_mum")
    await bot.send(amira, "/match")

    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))

    assert bot.last_answer() == "Hello sent 💛"
    assert "You said hello" in card_for_text(fake, amira, "Bea")
    [request] = requests(fake, bea)
    assert "Amira" in request.plain_text
    assert "🏡 Moulsham and Central, Chelmsford" in request.plain_text
    assert "📅 Due March 2027" in request.plain_text
    assert request.button_texts() == ["✅ Yes, introduce us", "No thanks", "🚫 Block", "⚠️ Report"]
    assert not knows_contact_of(fake, bea, amira)
    assert not knows_contact_of(fake, amira, bea)


def card_for_text(fake: FakeTelegram, user: object, name: str) -> str:
    """The current text of the message that showed `name`'s card (it is edited after a hello)."""
    for message in reversed(fake.messages(user)):  # type: ignore[arg-type]
        if message.plain_text.startswith(f"👤 {name}"):
            return message.plain_text
    raise AssertionError(f"no card for {name}")


async def test_yes_introduces_both_with_a_contact_link_username_and_icebreaker(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea", username="bea_mum")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))

    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])

    to_amira, to_bea = bot.last(amira), bot.last(bea)
    assert "You and Bea are introduced!" in to_amira.plain_text
    assert "@bea_mum" in to_amira.plain_text
    assert f'href="tg://user?id={bea.id}"' in (to_amira.text or "")
    assert "You and Amira are introduced!" in to_bea.plain_text
    assert f'href="tg://user?id={amira.id}"' in (to_bea.text or "")
    assert "💬" in to_bea.plain_text
    assert to_bea.button_texts() == ["🚫 Block", "⚠️ Report"]
    assert "You said yes" in requests(fake, bea)[-1].plain_text
    [intro] = await introductions(bot)
    assert intro.status is IntroductionStatus.INTRODUCED


async def test_no_thanks_tells_the_requester_kindly_without_a_reason_and_offers_others(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Cat")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))
    before = len(fake.messages(amira))

    await bot.press(bea, "No thanks", message=requests(fake, bea)[-1])

    assert bot.last_answer() == "No problem – we won't share anything. 💛"
    [told] = fake.messages(amira)[before:]
    assert "didn't work out with one of your suggestions this time" in told.plain_text
    assert "Bea" not in told.plain_text
    # Suggestions are worked out when she taps, so they are fresh however long the words waited.
    shown = await bot.press(amira, "👋 Show me mums near me", message=told)
    assert [m.plain_text.splitlines()[0] for m in shown[1:]] == ["👤 Cat"]
    assert not knows_contact_of(fake, amira, bea)


async def test_an_unanswered_request_ends_after_seven_days_with_the_same_kind_words(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))
    request = requests(fake, bea)[-1]

    bot.clock.advance(dt.timedelta(days=6, hours=23))
    await run_matching_job(bot)
    assert "didn't work out" not in bot.last(amira).plain_text

    bot.clock.advance(dt.timedelta(hours=2))
    await bot.press(bea, "✅ Yes, introduce us", message=request)
    assert bot.last_answer() == "This request has expired, so nothing has been shared."
    await run_matching_job(bot)

    assert "didn't work out with one of your suggestions" in bot.last(amira).plain_text
    assert request.plain_text == "This request is no longer open."
    assert not knows_contact_of(fake, amira, bea) and not knows_contact_of(fake, bea, amira)
    [intro] = await introductions(bot)
    assert intro.status is IntroductionStatus.EXPIRED


async def test_the_kind_words_wait_for_the_morning_when_a_request_ends_at_night(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))

    bot.clock.set(dt.datetime(2026, 12, 7, 22, 30, tzinfo=LONDON))
    await run_matching_job(bot)
    at_night = bot.last(amira).plain_text
    bot.clock.set(dt.datetime(2026, 12, 8, 8, 5, tzinfo=LONDON))
    await run_matching_job(bot)

    assert "didn't work out" not in at_night
    assert "didn't work out" in bot.last(amira).plain_text


async def test_saying_hello_to_each_other_introduces_both_at_once(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.send(bea, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))

    await bot.press(bea, "👋 Say hello", message=card_for(fake, bea, "Amira"))

    assert "You and Amira are introduced!" in bot.last(bea).plain_text
    assert "You and Bea are introduced!" in bot.last(amira).plain_text
    [intro] = await introductions(bot)
    assert intro.status is IntroductionStatus.INTRODUCED


async def test_double_taps_make_one_request_and_one_introduction(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    card = card_for(fake, amira, "Bea")
    await bot.press(amira, "👋 Say hello", message=card)

    await bot.press(amira, "👋 Say hello", message=card)
    assert bot.last_answer() == "You've already said hello – we'll let you know when she answers."
    assert len(requests(fake, bea)) == 1

    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])

    assert bot.last_answer() == "You're already introduced – send /mymatches to see her contact."
    assert sum("are introduced" in m.plain_text for m in fake.messages(amira)) == 1
    assert sum("are introduced" in m.plain_text for m in fake.messages(bea)) == 1


async def test_forged_or_replayed_buttons_do_nothing_and_say_so(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    cat = await join(bot, fake, "Cat")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))
    [intro] = await introductions(bot)
    amira_card = card_for(fake, amira, "Cat")
    hello_for_cat = amira_card.callback_data()[0]
    await bot.send(cat, "/match")
    own_message = bot.last(cat)

    for data in (f"mt:yes:{intro.id}", hello_for_cat, f"mt:rep:i{intro.id}", "mt:hi:x", "mt:yes"):
        await bot.forge(cat, own_message, data)
        assert bot.last_answer() == "Sorry, that button doesn't work any more.", data

    assert (await introductions(bot))[0].status is IntroductionStatus.REQUESTED
    assert not knows_contact_of(fake, cat, amira) and not knows_contact_of(fake, cat, bea)
    assert requests(fake, bea)[-1].plain_text.startswith("👋 Amira")


async def test_an_old_card_from_an_earlier_match_has_expired(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    old = card_for(fake, amira, "Bea")
    await bot.send(amira, "/match")

    await bot.press(amira, "👋 Say hello", message=old)

    assert bot.last_answer() == "This suggestion has expired – send /match for fresh ones."


async def test_mymatches_lists_introductions_and_requests_waiting_on_either_side(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    cat = await join(bot, fake, "Cat")
    dee = await join(bot, fake, "Dee")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Bea"))
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Cat"))
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])
    await bot.send(dee, "/match")
    await bot.press(dee, "👋 Say hello", message=card_for(fake, dee, "Amira"))

    sent = await bot.send(amira, "/mymatches")

    summary = sent[0].plain_text
    assert "Introduced" in summary and "Bea – Moulsham and Central" in summary
    assert f"tg://user?id={bea.id}" in (sent[0].text or "")
    assert "Waiting for their answer" in summary and "Cat – Moulsham and Central" in summary
    assert "Waiting for your answer" in summary
    assert sent[1].plain_text.startswith("👋 Dee would like to say hello")
    assert "Dee" not in summary.split("Waiting for your answer")[0]
    assert not knows_contact_of(fake, amira, cat) and not knows_contact_of(fake, amira, dee)
    assert (await bot.send(cat, "/mymatches"))[-1].plain_text.startswith("👋 Amira")


async def test_match_before_signing_up_or_without_consent_explains_kindly(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    stranger = fake.new_user("Stranger")
    bea = await join(bot, fake, "Bea", matching=False)

    assert "Send /start to sign up" in (await bot.send(stranger, "/match"))[-1].plain_text
    assert "turn on <i>meeting other mums</i>" in ((await bot.send(bea, "/match"))[-1].text or "")
