"""Races end in one consistent state: hellos crossing, double taps, a yes against a withdrawal."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select
from telegram import Update

from bot.sandbox.fake_api import FakeTelegram
from bot.services.matching.introductions import (
    AnswerResult,
    HelloResult,
    answer_request,
    say_hello,
)
from bot.services.matching.suggestions import suggest
from bot.services.residents.consent import ConsentContext
from bot.services.residents.profile import set_consent
from models import ConsentPurpose, IntroductionStatus, MatchIntroduction, Resident
from tests.conftest import DEFAULT_NOW
from tests.factories import consent_evidence
from tests.harness import BotHarness
from tests.test_matching_support import (
    RULES,
    Sessions,
    card_for,
    introductions,
    join,
    mum,
    neighbours,
    requests,
)

NOW = DEFAULT_NOW
ROUNDS = 8


async def _card_of(sessions: Sessions, viewer: Resident, other: Resident) -> int:
    async with sessions() as session, session.begin():
        shown = await suggest(session, viewer.id, NOW, RULES, neighbours())
    return next(s.suggestion_id for s in shown if s.candidate.resident_id == other.id)


async def _hello(sessions: Sessions, who: Resident, suggestion_id: int) -> HelloResult:
    async with sessions() as session, session.begin():
        hello = await say_hello(
            session, who.telegram_user_id, suggestion_id, NOW, RULES, neighbours()
        )
    return hello.result


async def _answer(sessions: Sessions, who: Resident, intro_id: int, yes: bool) -> AnswerResult:
    async with sessions() as session, session.begin():
        answered = await answer_request(session, who.telegram_user_id, intro_id, yes, NOW)
    return answered.result


async def _introductions(sessions: Sessions) -> list[MatchIntroduction]:
    async with sessions() as session:
        return list(await session.scalars(select(MatchIntroduction).order_by(MatchIntroduction.id)))


async def _pair(sessions: Sessions, offset: int) -> tuple[Resident, Resident]:
    # Each round's pair is due on its own day, far enough from the others to be each other's
    # first suggestion.
    due = dt.date(2027, 1, 1) + dt.timedelta(days=60 * (offset % 4))
    ward = ("E05015473", "E05010828")[offset // 4 % 2]
    a = await mum(sessions, NOW, ward=ward, due=due)
    b = await mum(sessions, NOW, ward=ward, due=due)
    return a, b


async def test_two_people_saying_hello_to_each_other_at_once_are_introduced_once(
    sessions: Sessions,
) -> None:
    for round_ in range(ROUNDS):
        a, b = await _pair(sessions, round_)
        a_card, b_card = await _card_of(sessions, a, b), await _card_of(sessions, b, a)

        results = await asyncio.gather(_hello(sessions, a, a_card), _hello(sessions, b, b_card))

        assert sorted(results) == [HelloResult.INTRODUCED, HelloResult.REQUESTED]
    rows = await _introductions(sessions)
    assert len(rows) == ROUNDS
    assert {row.status for row in rows} == {IntroductionStatus.INTRODUCED}


async def test_a_double_tapped_yes_introduces_once(sessions: Sessions) -> None:
    for round_ in range(ROUNDS):
        a, b = await _pair(sessions, round_)
        assert await _hello(sessions, a, await _card_of(sessions, a, b)) is HelloResult.REQUESTED
        intro_id = (await _introductions(sessions))[-1].id

        results = await asyncio.gather(
            _answer(sessions, b, intro_id, True), _answer(sessions, b, intro_id, True)
        )

        assert sorted(results) == [AnswerResult.ALREADY_INTRODUCED, AnswerResult.INTRODUCED]


async def test_a_yes_racing_the_requesters_withdrawal_ends_one_way_or_the_other(
    sessions: Sessions,
) -> None:
    outcomes = set()
    for round_ in range(ROUNDS):
        a, b = await _pair(sessions, round_)
        await _hello(sessions, a, await _card_of(sessions, a, b))
        intro_id = (await _introductions(sessions))[-1].id
        evidence = consent_evidence(NOW, "button:pv:matching:off", "privacy")

        async def withdraw(who: Resident = a, said: ConsentContext = evidence) -> None:
            async with sessions() as session, session.begin():
                await set_consent(
                    session, who.telegram_user_id, ConsentPurpose.MATCHING, False, said
                )

        answered, _ = await asyncio.gather(_answer(sessions, b, intro_id, True), withdraw())

        row = (await _introductions(sessions))[-1]
        if answered is AnswerResult.INTRODUCED:
            assert row.status is IntroductionStatus.INTRODUCED
        else:
            assert answered in (AnswerResult.UNAVAILABLE, AnswerResult.ALREADY_ANSWERED)
            assert row.status is IntroductionStatus.CANCELLED
        outcomes.add(row.status)
    assert outcomes <= {IntroductionStatus.INTRODUCED, IntroductionStatus.CANCELLED}


async def test_through_the_bot_crossing_hellos_and_double_taps_send_contacts_once(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    bea = await join(bot, fake, "Bea")
    amira = await join(bot, fake, "Amira")
    await bot.send(amira, "/match")
    await bot.send(bea, "/match")
    presses = [
        fake.press_button(amira, card_for(fake, amira, "Bea"), "👋 Say hello"),
        fake.press_button(bea, card_for(fake, bea, "Amira"), "👋 Say hello"),
        fake.press_button(bea, card_for(fake, bea, "Amira"), "👋 Say hello"),
    ]

    await asyncio.gather(*(bot.app.process_update(Update.de_json(p, bot.app.bot)) for p in presses))
    await bot.send_queued()
    for request in requests(fake, bea) + requests(fake, amira):
        await bot.press(bea if request.chat_id == bea.id else amira, 0, message=request)

    [intro] = await introductions(bot)
    assert intro.status is IntroductionStatus.INTRODUCED
    assert sum("are introduced" in m.plain_text for m in fake.messages(amira)) == 1
    assert sum("are introduced" in m.plain_text for m in fake.messages(bea)) == 1
