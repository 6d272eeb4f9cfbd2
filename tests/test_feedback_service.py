"""Feedback services, tested directly: what is stored, and when a question may be asked."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.quiet_hours import QuietHours
from bot.services import feedback
from bot.services.residents.profile import NotSignedUp, set_consent
from models import (
    ConsentPurpose,
    FeedbackComment,
    FeedbackMoment,
    FeedbackPrompt,
    FeedbackResponse,
    Loneliness,
    PromptStatus,
    Resident,
    ResidentStatus,
    StageBand,
)
from tests.conftest import DEFAULT_NOW
from tests.factories import consent_evidence, make_resident

Sessions = async_sessionmaker[AsyncSession]
LONDON = ZoneInfo("Europe/London")
QUIET = QuietHours(LONDON)
TODAY = DEFAULT_NOW.date()
FORTNIGHT = dt.timedelta(days=14)


async def _prompts(sessions: Sessions) -> list[FeedbackPrompt]:
    async with sessions() as session:
        return list(await session.scalars(select(FeedbackPrompt).order_by(FeedbackPrompt.id)))


async def _joined(sessions: Sessions, ago: dt.timedelta, consents: bool = True) -> Resident:
    joined = DEFAULT_NOW - ago
    async with sessions() as session, session.begin():
        return await make_resident(session, joined, consents=consents)


@pytest.mark.parametrize(
    ("weeks_to_go", "band"),
    [
        (35, StageBand.FIRST_TRIMESTER),
        (28, StageBand.FIRST_TRIMESTER),
        (27, StageBand.SECOND_TRIMESTER),
        (13, StageBand.SECOND_TRIMESTER),
        (12, StageBand.THIRD_TRIMESTER),
        (0, StageBand.THIRD_TRIMESTER),
        (-1, StageBand.AFTER_DUE_DATE),
    ],
)
def test_stage_band_follows_the_trimesters_then_the_due_date(
    weeks_to_go: int, band: StageBand
) -> None:
    due = TODAY + dt.timedelta(weeks=weeks_to_go)
    assert feedback.stage_band(due, TODAY) is band


def test_stage_band_without_a_due_date_is_unknown() -> None:
    assert feedback.stage_band(None, TODAY) is StageBand.UNKNOWN


@pytest.mark.parametrize(
    ("local", "quiet"),
    [("20:59", False), ("21:00", True), ("02:00", True), ("07:59", True), ("08:00", False)],
)
def test_quiet_hours_run_from_nine_at_night_to_eight_in_the_morning_uk_time(
    local: str, quiet: bool
) -> None:
    # A summer date: British Summer Time is an hour ahead of UTC.
    hour, minute = (int(part) for part in local.split(":"))
    moment = dt.datetime(2027, 7, 1, hour, minute, tzinfo=LONDON)
    assert QuietHours(LONDON).contains(moment.astimezone(dt.UTC)) is quiet


async def test_a_rating_is_stored_with_month_district_and_stage_but_no_words(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        resident = await make_resident(
            session, DEFAULT_NOW, due_date=TODAY + dt.timedelta(weeks=10)
        )
        response_id = await feedback.record_rating(
            session, resident.telegram_user_id, 4, now=DEFAULT_NOW, today=TODAY
        )
        await feedback.record_loneliness(
            session, resident.telegram_user_id, response_id, Loneliness.OCCASIONALLY
        )
        await feedback.record_comment(
            session, resident.telegram_user_id, "  The group was lovely  ", now=DEFAULT_NOW
        )

    async with sessions() as session:
        response = await session.get(FeedbackResponse, response_id)
        comment = await session.scalar(select(FeedbackComment))
    assert response is not None and comment is not None
    assert (response.rating, response.loneliness) == (4, Loneliness.OCCASIONALLY)
    assert response.district_code == resident.district_code
    assert response.stage_band is StageBand.THIRD_TRIMESTER
    assert response.moment is FeedbackMoment.ANYTIME
    assert comment.text == "The group was lovely"
    assert not hasattr(FeedbackResponse, "text")
    assert not {"rating", "district_code", "stage_band"} & set(FeedbackComment.__table__.c.keys())


async def test_she_cannot_add_a_loneliness_answer_to_someone_elses_rating(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        amira = await make_resident(session, DEFAULT_NOW)
        beth = await make_resident(session, DEFAULT_NOW)
        response_id = await feedback.record_rating(
            session, amira.telegram_user_id, 5, now=DEFAULT_NOW, today=TODAY
        )
        changed = await feedback.record_loneliness(
            session, beth.telegram_user_id, response_id, Loneliness.NEVER
        )
    assert changed is False
    async with sessions() as session:
        response = await session.get(FeedbackResponse, response_id)
    assert response is not None and response.loneliness is None


@pytest.mark.parametrize("rating", [0, 6, -1])
async def test_a_rating_outside_one_to_five_is_refused(sessions: Sessions, rating: int) -> None:
    async with sessions() as session, session.begin():
        resident = await make_resident(session, DEFAULT_NOW)
        with pytest.raises(ValueError, match="1 to 5"):
            await feedback.record_rating(
                session, resident.telegram_user_id, rating, now=DEFAULT_NOW, today=TODAY
            )


async def test_only_someone_who_finished_signing_up_can_give_feedback(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        onboarding = await make_resident(session, DEFAULT_NOW, status=ResidentStatus.ONBOARDING)
        assert not await feedback.can_give_feedback(session, onboarding.telegram_user_id)
        assert not await feedback.can_give_feedback(session, 12345)
        with pytest.raises(NotSignedUp):
            await feedback.record_rating(
                session, onboarding.telegram_user_id, 3, now=DEFAULT_NOW, today=TODAY
            )


@pytest.mark.parametrize("ref", ["clinic-7", "baby_group_2"])
def test_a_directory_reference_is_kept_when_it_is_plain(ref: str) -> None:
    assert feedback.clean_service_ref(ref) == ref


@pytest.mark.parametrize("ref", ["", "<b>", "a b", "x" * 65, "café", None])
def test_anything_else_as_a_directory_reference_is_dropped(ref: str | None) -> None:
    assert feedback.clean_service_ref(ref) is None


async def test_two_weeks_after_joining_a_question_is_planned_once_for_those_who_agreed(
    sessions: Sessions,
) -> None:
    due = await _joined(sessions, FORTNIGHT)
    await _joined(sessions, FORTNIGHT, consents=False)
    await _joined(sessions, FORTNIGHT - dt.timedelta(hours=1))
    # Joined long before: "two weeks in" has passed, so she isn't asked it now.
    await _joined(sessions, dt.timedelta(days=60))

    async with sessions() as session, session.begin():
        planned = await feedback.plan_two_week_prompts(session, DEFAULT_NOW)
        again = await feedback.plan_two_week_prompts(
            session, DEFAULT_NOW + dt.timedelta(minutes=30)
        )

    assert (planned, again) == (1, 0)
    [prompt] = await _prompts(sessions)
    assert (prompt.resident_id, prompt.moment) == (due.id, FeedbackMoment.TWO_WEEKS)
    assert prompt.status is PromptStatus.PENDING


async def test_a_due_question_is_claimed_once_and_marked_sent(sessions: Sessions) -> None:
    resident = await _joined(sessions, FORTNIGHT)
    async with sessions() as session, session.begin():
        await feedback.plan_two_week_prompts(session, DEFAULT_NOW)
        [claimed] = await feedback.claim_due_prompts(session, DEFAULT_NOW, QUIET)
        again = await feedback.claim_due_prompts(session, DEFAULT_NOW, QUIET)

    assert claimed.telegram_user_id == resident.telegram_user_id
    assert claimed.moment is FeedbackMoment.TWO_WEEKS
    assert again == []
    [prompt] = await _prompts(sessions)
    assert (prompt.status, prompt.sent_at) == (PromptStatus.SENT, DEFAULT_NOW)


async def test_nothing_is_claimed_in_quiet_hours(sessions: Sessions) -> None:
    await _joined(sessions, FORTNIGHT)
    late = DEFAULT_NOW.replace(hour=22)
    async with sessions() as session, session.begin():
        await feedback.plan_two_week_prompts(session, late)
        assert await feedback.claim_due_prompts(session, late, QUIET) == []
        next_morning = late + dt.timedelta(hours=10)
        assert len(await feedback.claim_due_prompts(session, next_morning, QUIET)) == 1


async def test_she_is_asked_at_most_once_a_fortnight_and_the_next_question_waits(
    sessions: Sessions,
) -> None:
    resident = await _joined(sessions, FORTNIGHT)
    async with sessions() as session, session.begin():
        await feedback.plan_two_week_prompts(session, DEFAULT_NOW)
        await feedback.note_feedback_moment(
            session, resident.id, FeedbackMoment.AFTER_INTRODUCTION, DEFAULT_NOW - FORTNIGHT
        )
        first = await feedback.claim_due_prompts(session, DEFAULT_NOW, QUIET)
        too_soon = await feedback.claim_due_prompts(
            session, DEFAULT_NOW + FORTNIGHT - dt.timedelta(hours=1), QUIET
        )
        later = await feedback.claim_due_prompts(session, DEFAULT_NOW + FORTNIGHT, QUIET)

    assert len(first) == 1
    assert too_soon == []
    assert len(later) == 1 and later[0].moment != first[0].moment


async def test_feedback_she_sent_herself_counts_towards_the_fortnight(
    sessions: Sessions,
) -> None:
    resident = await _joined(sessions, FORTNIGHT)
    async with sessions() as session, session.begin():
        await feedback.record_rating(
            session,
            resident.telegram_user_id,
            5,
            now=DEFAULT_NOW - dt.timedelta(days=3),
            today=TODAY,
        )
        await feedback.plan_two_week_prompts(session, DEFAULT_NOW)
        assert await feedback.claim_due_prompts(session, DEFAULT_NOW, QUIET) == []
        eleven_days_on = DEFAULT_NOW + dt.timedelta(days=11)
        assert len(await feedback.claim_due_prompts(session, eleven_days_on, QUIET)) == 1


async def test_withdrawing_feedback_consent_cancels_questions_not_yet_asked(
    sessions: Sessions,
) -> None:
    resident = await _joined(sessions, FORTNIGHT)
    async with sessions() as session, session.begin():
        await feedback.plan_two_week_prompts(session, DEFAULT_NOW)
        await set_consent(
            session,
            resident.telegram_user_id,
            ConsentPurpose.FEEDBACK,
            False,
            consent_evidence(DEFAULT_NOW),
        )
        assert await feedback.claim_due_prompts(session, DEFAULT_NOW, QUIET) == []
        await feedback.retire_prompts(session, DEFAULT_NOW)
    [prompt] = await _prompts(sessions)
    assert prompt.status is PromptStatus.CANCELLED


async def test_a_question_that_could_not_be_asked_in_time_expires(sessions: Sessions) -> None:
    resident = await _joined(sessions, FORTNIGHT)
    async with sessions() as session, session.begin():
        await feedback.note_feedback_moment(
            session, resident.id, FeedbackMoment.AFTER_BIRTH, DEFAULT_NOW
        )
        much_later = DEFAULT_NOW + dt.timedelta(days=14) + feedback.PROMPT_EXPIRES_AFTER
        await feedback.retire_prompts(session, much_later + dt.timedelta(minutes=1))
    [prompt] = await _prompts(sessions)
    assert prompt.status is PromptStatus.EXPIRED


async def test_a_moment_is_noted_only_with_consent_and_once_while_it_waits(
    sessions: Sessions,
) -> None:
    agreed = await _joined(sessions, dt.timedelta(days=3))
    declined = await _joined(sessions, dt.timedelta(days=3), consents=False)
    async with sessions() as session, session.begin():
        moment = FeedbackMoment.AFTER_INTRODUCTION
        first = await feedback.note_feedback_moment(session, agreed.id, moment, DEFAULT_NOW)
        second = await feedback.note_feedback_moment(session, agreed.id, moment, DEFAULT_NOW)
        refused = await feedback.note_feedback_moment(session, declined.id, moment, DEFAULT_NOW)

    assert (first, second, refused) == (True, False, False)
    [prompt] = await _prompts(sessions)
    assert prompt.due_at == DEFAULT_NOW + dt.timedelta(days=7)


async def test_a_moment_we_do_not_ask_about_is_a_programming_error(sessions: Sessions) -> None:
    resident = await _joined(sessions, dt.timedelta(days=3))
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match="not a moment"):
            await feedback.note_feedback_moment(
                session, resident.id, FeedbackMoment.ANYTIME, DEFAULT_NOW
            )


async def test_each_person_gets_one_question_per_run_even_with_several_due(
    sessions: Sessions,
) -> None:
    residents = [await _joined(sessions, FORTNIGHT) for _ in range(3)]
    async with sessions() as session, session.begin():
        for resident in residents:
            await feedback.note_feedback_moment(
                session, resident.id, FeedbackMoment.AFTER_BIRTH, DEFAULT_NOW - FORTNIGHT
            )
        await feedback.plan_two_week_prompts(session, DEFAULT_NOW)
        claimed = await feedback.claim_due_prompts(session, DEFAULT_NOW, QUIET)

    assert sorted(p.telegram_user_id for p in claimed) == sorted(
        r.telegram_user_id for r in residents
    )


async def test_answering_skipping_and_stopping_only_work_on_her_own_open_question(
    sessions: Sessions,
) -> None:
    amira, beth = await _joined(sessions, FORTNIGHT), await _joined(sessions, FORTNIGHT)
    async with sessions() as session, session.begin():
        await feedback.plan_two_week_prompts(session, DEFAULT_NOW)
        claimed = {
            p.telegram_user_id: p.prompt_id
            for p in await feedback.claim_due_prompts(session, DEFAULT_NOW, QUIET)
        }
        amiras = claimed[amira.telegram_user_id]
        evidence = consent_evidence(DEFAULT_NOW, "button:fb:p:stop")

        assert (
            await feedback.answer_prompt(
                session, beth.telegram_user_id, amiras, 2, now=DEFAULT_NOW, today=TODAY
            )
            is None
        )
        assert not await feedback.skip_prompt(session, beth.telegram_user_id, amiras, DEFAULT_NOW)
        assert not await feedback.stop_asking(session, beth.telegram_user_id, amiras, evidence)
        assert await feedback.answer_prompt(
            session, amira.telegram_user_id, amiras, 2, now=DEFAULT_NOW, today=TODAY
        )
        # Answered: a replayed press does nothing more.
        assert (
            await feedback.answer_prompt(
                session, amira.telegram_user_id, amiras, 5, now=DEFAULT_NOW, today=TODAY
            )
            is None
        )

    async with sessions() as session:
        ratings = list(await session.scalars(select(FeedbackResponse.rating)))
    assert ratings == [2]
