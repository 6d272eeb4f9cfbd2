"""Blocking, reporting, withdrawing and erasure: each ends what was open, quietly and at once."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from models import IntroductionStatus, MatchBlock, MatchReport, MatchSuggestion
from tests.harness import BotHarness
from tests.test_matching_support import (
    card_for,
    cards,
    introductions,
    join,
    knows_contact_of,
    requests,
    resident_of,
    run_matching_job,
)


async def _hello(bot: BotHarness, fake: FakeTelegram, asker: FakeUser, name: str) -> None:
    await bot.send(asker, "/match")
    await bot.press(asker, "👋 Say hello", message=card_for(fake, asker, name))


async def _shown_names(bot: BotHarness, fake: FakeTelegram, user: FakeUser) -> list[str]:
    before = len(cards(fake, user))
    await bot.send(user, "/match")
    return [c.plain_text.splitlines()[0].removeprefix("👤 ") for c in cards(fake, user)[before:]]


async def test_blocking_from_a_card_is_silent_and_keeps_them_apart_for_good(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Cat")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    card = card_for(fake, amira, "Bea")
    bea_saw = len(fake.messages(bea))

    sent = await bot.press(amira, "🚫 Block", message=card)

    assert bot.last_answer() == "Blocked"
    assert "you won't be suggested to each other again" in sent[-1].plain_text
    assert card.button_texts() == ["⚠️ Report"]
    assert len(fake.messages(bea)) == bea_saw
    assert await _shown_names(bot, fake, amira) == ["Cat"]
    assert "Amira" not in await _shown_names(bot, fake, bea)
    async with bot.session() as session:
        assert len(list(await session.scalars(select(MatchBlock)))) == 1


async def test_blocking_a_request_ends_it_just_as_a_no_thanks_would(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await _hello(bot, fake, amira, "Bea")

    await bot.press(bea, "🚫 Block", message=requests(fake, bea)[-1])

    assert "didn't work out with one of your suggestions" in fake.messages(amira)[-1].plain_text
    assert not knows_contact_of(fake, amira, bea) and not knows_contact_of(fake, bea, amira)
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])
    assert not knows_contact_of(fake, amira, bea)


async def test_a_report_is_kept_for_the_moderators_with_her_reason(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await _hello(bot, fake, amira, "Bea")

    await bot.press(bea, "⚠️ Report", message=requests(fake, bea)[-1])
    asked = await bot.press(bea, "⚠️ Yes, report")
    assert "only the council's moderators will see it" in asked[-1].plain_text
    assert asked[-1].button_texts() == ["Skip"]
    thanked = await bot.send(bea, "  She asked for my\u0007 address  ")

    assert thanked[-1].plain_text == "Thank you – our moderators will look at this. 💛"
    async with bot.session() as session:
        [filed] = list(await session.scalars(select(MatchReport)))
    assert filed.reporter_id == (await resident_of(bot, bea)).id
    assert filed.reported_id == (await resident_of(bot, amira)).id
    assert filed.reason == "She asked for my address"
    assert filed.created_at == bot.clock.now()
    assert "Amira" not in await _shown_names(bot, fake, bea)
    assert "didn't work out" in fake.messages(amira)[-1].plain_text


async def test_the_reason_is_optional_and_a_later_message_is_not_taken_as_one(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await _hello(bot, fake, amira, "Bea")
    await bot.press(bea, "⚠️ Report", message=requests(fake, bea)[-1])
    await bot.press(bea, "⚠️ Yes, report")

    skipped = await bot.press(bea, "Skip")
    await bot.send(bea, "hello there")

    assert skipped[-1].plain_text.startswith("Thank you – your report has been passed")
    async with bot.session() as session:
        [filed] = list(await session.scalars(select(MatchReport)))
    assert filed.reason is None


async def test_withdrawing_matching_consent_cancels_pending_introductions(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    dee = await join(bot, fake, "Dee")
    amira = await join(bot, fake, "Amira")
    eve = await join(bot, fake, "Eve")
    await _hello(bot, fake, amira, "Bea")
    [request] = requests(fake, bea)
    await _hello(bot, fake, eve, "Amira")
    await bot.send(dee, "/match")
    dee_card = card_for(fake, dee, "Amira")

    await bot.send(amira, "/privacy")
    await bot.press(amira, "Turn off: meeting other mums")

    statuses = {i.status for i in await introductions(bot)}
    assert statuses == {IntroductionStatus.CANCELLED}
    await bot.press(bea, "✅ Yes, introduce us", message=request)
    assert bot.last_answer() == "This request is no longer open, so nothing has been shared."
    await bot.press(dee, "👋 Say hello", message=dee_card)
    assert bot.last_answer() == (
        "Sorry, she isn't available any more. Send /match for other suggestions."
    )
    assert "Amira" not in await _shown_names(bot, fake, dee)

    await run_matching_job(bot)

    assert request.plain_text == "This request is no longer open."
    assert dee_card.plain_text == "This suggestion is no longer available."
    assert "didn't work out with one of your suggestions" in "".join(
        m.plain_text for m in fake.messages(eve)
    )
    assert not any(knows_contact_of(fake, u, amira) for u in (bea, dee, eve))


async def test_forget_leaves_no_trace_of_her_the_other_side_can_see(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    cat = await join(bot, fake, "Cat")
    dee = await join(bot, fake, "Dee")
    # Due a week after the others, so each is the other's first suggestion.
    amira = await join(bot, fake, "Zelda", username="zelda_mum", due="21/03/2027")
    eve = await join(bot, fake, "Eve", due="21/03/2027")
    await _hello(bot, fake, amira, "Bea")
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])
    await bot.send(amira, "/match")
    await bot.press(amira, "👋 Say hello", message=card_for(fake, amira, "Cat"))
    await bot.send(dee, "/match")
    await _hello(bot, fake, eve, "Zelda")
    # Lists and re-sent requests that name her are taken back too.
    assert "Zelda" in (await bot.send(bea, "/mymatches"))[0].plain_text
    assert "Zelda" in (await bot.send(cat, "/mymatches"))[-1].plain_text

    await bot.send(amira, "/forget")
    await bot.press(amira, "Yes, delete everything")
    await run_matching_job(bot)

    for other in (bea, cat, dee, eve):
        showing = [m.plain_text for m in fake.messages(other) if not m.deleted]
        assert not any("Zelda" in text or "zelda_mum" in text for text in showing), other
        assert "Zelda" not in (await bot.send(other, "/mymatches"))[-1].plain_text
    assert "didn't work out" in "".join(m.plain_text for m in fake.messages(eve))
    async with bot.session() as session:
        assert list(await session.scalars(select(MatchSuggestion.candidate_id))) != []
        assert await introductions(bot) == []


async def test_mydata_includes_her_matching_data_but_not_other_peoples(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    await join(bot, fake, "Cat")
    amira = await join(bot, fake, "Amira")
    await _hello(bot, fake, amira, "Bea")
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])
    await bot.press(amira, "🚫 Block", message=card_for(fake, amira, "Cat"))

    await bot.send(amira, "/mydata")

    document = fake.messages(amira)[-1].document
    assert document is not None
    data = json.loads(document[1])["matching"]
    assert data["taking_part"] is True
    assert [i["status"] for i in data["introductions"]] == ["introduced"]
    assert data["introductions"][0]["with"] == "Bea" and data["introductions"][0]["you_asked"]
    assert len(data["suggestions_shown_to_you"]) == 2
    assert len(data["people_you_blocked"]) == 1
    assert "Cat" not in json.dumps(data)


def _suggestion_data(card: SentMessage, action: str) -> str:
    """The callback data a card's button would carry for `action` (e.g. "repy")."""
    hello = next(d for d in card.callback_data() if d.startswith("mt:hi:"))
    return f"mt:{action}:s{hello.removeprefix('mt:hi:')}"


async def test_report_asks_before_it_blocks_and_cancel_changes_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await _hello(bot, fake, amira, "Bea")

    [question] = await bot.press(bea, "⚠️ Report", message=requests(fake, bea)[-1])
    offered = question.button_texts()
    async with bot.session() as session:
        nothing_yet = (
            await session.scalar(select(MatchReport)),
            await session.scalar(select(MatchBlock)),
        )
    [cancelled] = await bot.press(bea, "Cancel", message=question)
    await bot.press(bea, "✅ Yes, introduce us", message=requests(fake, bea)[-1])

    assert "Report and block Amira?" in question.plain_text
    assert offered == ["⚠️ Yes, report", "Cancel"]
    assert nothing_yet == (None, None)
    assert "Nothing was reported" in cancelled.plain_text
    assert question.button_texts() == []
    assert knows_contact_of(fake, bea, amira)


async def test_report_confirmation_for_someone_else_s_card_is_refused(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await join(bot, fake, "Bea")
    cat = await join(bot, fake, "Cat")
    amira = await join(bot, fake, "Amira")
    await bot.send(cat, "/match")
    cats_card = card_for(fake, cat, "Bea")

    for action in ("rep", "repy"):
        await bot.forge(amira, bot.last(amira), _suggestion_data(cats_card, action))
        assert bot.last_answer() == "Sorry, that button doesn't work any more."
    await bot.forge(amira, bot.last(amira), "mt:repy:s<b>1</b>")

    assert "Sorry" in str(bot.last_answer())
    async with bot.session() as session:
        assert await session.scalar(select(MatchReport)) is None
        assert await session.scalar(select(MatchBlock)) is None


async def test_a_second_press_of_yes_report_files_one_report_and_says_so(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.press(amira, "⚠️ Report", message=card_for(fake, amira, "Bea"))
    question = bot.last_with_buttons(amira)
    yes = question.callback_data()[0]
    await bot.press(amira, "⚠️ Yes, report", message=question)

    await bot.forge(amira, question, yes)

    assert "already" in str(bot.last_answer())
    async with bot.session() as session:
        assert len(list(await session.scalars(select(MatchReport)))) == 1


async def test_withdrawing_matching_consent_takes_back_every_card_and_request_showing_her(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    dee = await join(bot, fake, "Dee")
    amira = await join(bot, fake, "Amira")
    await bot.send(dee, "/match")
    lapsed = card_for(fake, dee, "Amira")
    await bot.send(dee, "/match")  # the first card lapses, its buttons still there
    await _hello(bot, fake, amira, "Bea")
    await bot.press(bea, "No thanks", message=requests(fake, bea)[-1])
    assert "Amira" in lapsed.plain_text and lapsed.button_texts()

    await bot.send(amira, "/privacy")
    await bot.press(amira, "Turn off: meeting other mums")
    await run_matching_job(bot)

    for other in (bea, dee):
        showing = [m for m in fake.messages(other) if not m.deleted and "Amira" in m.plain_text]
        assert showing == [], other
    assert lapsed.plain_text == "This suggestion is no longer available."
    assert lapsed.button_texts() == []
