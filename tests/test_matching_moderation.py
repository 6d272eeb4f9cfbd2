"""Moderation and feedback meet matching: suspension takes her out; an introduction is a moment."""

from __future__ import annotations

from sqlalchemy import select

from bot.clock import FixedClock
from bot.services.matching import introductions as matching_introductions
from bot.services.matching import suggestions as matching
from bot.services.residents import life_events
from bot.services.staff.moderation import decide
from models import (
    FeedbackPrompt,
    MatchIntroduction,
    MatchReport,
    ModerationAction,
    StaffRole,
)
from tests.factories import consent_evidence, make_staff
from tests.test_matching_support import RULES, Sessions, mum, neighbours


async def _suspend(
    sessions: Sessions, clock: FixedClock, reporter_id: int, reported_id: int
) -> None:
    async with sessions() as session, session.begin():
        report = MatchReport(
            reporter_id=reporter_id, reported_id=reported_id, reason=None, created_at=clock.now()
        )
        session.add(report)
        await session.flush()
        moderator = await make_staff(session, clock.now(), StaffRole.MODERATOR, 5_550_001)
        assert await decide(session, moderator, report.id, ModerationAction.SUSPEND, clock.now())


async def _candidate_ids(sessions: Sessions, clock: FixedClock, resident_id: int) -> list[int]:
    async with sessions() as session, session.begin():
        found = await matching.find_candidates(
            session, resident_id, clock.now(), RULES, neighbours(), limit=10, fair=False
        )
    return [c.resident_id for c in found]


async def test_a_resident_suspended_by_a_moderator_is_never_proposed(
    sessions: Sessions, clock: FixedClock
) -> None:
    ana, bea, cat = [await mum(sessions, clock.now()) for _ in range(3)]
    assert bea.id in await _candidate_ids(sessions, clock, ana.id)

    await _suspend(sessions, clock, ana.id, bea.id)

    assert await _candidate_ids(sessions, clock, ana.id) == [cat.id]
    assert await _candidate_ids(sessions, clock, bea.id) == []


async def test_an_introduction_plans_a_feedback_question_for_both_mums(
    sessions: Sessions, clock: FixedClock
) -> None:
    ana, bea = await mum(sessions, clock.now()), await mum(sessions, clock.now())
    async with sessions() as session, session.begin():
        [suggestion] = await matching.suggest(session, ana.id, clock.now(), RULES, neighbours())
        await matching_introductions.say_hello(
            session,
            ana.telegram_user_id,
            suggestion.suggestion_id,
            clock.now(),
            RULES,
            neighbours(),
        )
    async with sessions() as session, session.begin():
        intro = (await session.scalars(select(MatchIntroduction))).one()
        await matching_introductions.answer_request(
            session, bea.telegram_user_id, intro.id, True, clock.now()
        )
    async with sessions() as session:
        prompts = list(await session.scalars(select(FeedbackPrompt.resident_id)))
    assert sorted(prompts) == sorted([ana.id, bea.id])


async def test_a_mum_whose_pregnancy_has_ended_is_never_proposed(
    sessions: Sessions, clock: FixedClock
) -> None:
    ana, bea = await mum(sessions, clock.now()), await mum(sessions, clock.now())
    async with sessions() as session, session.begin():
        await life_events.record_pregnancy_ended(
            session, bea.telegram_user_id, clock.now().date(), consent_evidence(clock.now())
        )

    assert await _candidate_ids(sessions, clock, ana.id) == []
    assert await _candidate_ids(sessions, clock, bea.id) == []
