"""Who is a candidate, and in what order: the service, straight against the database."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.services.matching.rules import MatchRules
from bot.services.matching.suggestions import find_candidates, suggest
from bot.services.residents.profile import set_consent
from models import (
    ConsentPurpose,
    IntroductionStatus,
    MatchBlock,
    MatchIntroduction,
    MatchReport,
    ResidentStatus,
)
from tests.conftest import DEFAULT_NOW
from tests.factories import consent_evidence
from tests.test_matching_support import (
    CASTLE,
    CENTRAL,
    DUE,
    RULES,
    ST_ANDREWS,
    TRINITY,
    Sessions,
    mum,
    neighbours,
)

NOW = DEFAULT_NOW


async def _candidates(
    sessions: Sessions, resident_id: int, rules: MatchRules = RULES, limit: int | None = None
) -> list[int]:
    async with sessions() as session, session.begin():
        found = await find_candidates(
            session, resident_id, NOW, rules, neighbours(rules.distance_km), limit=limit
        )
    return [c.resident_id for c in found]


async def test_candidates_live_in_her_ward_or_within_three_km_and_are_due_within_four_weeks(
    sessions: Sessions,
) -> None:
    her = await mum(sessions, NOW)
    same_ward = await mum(sessions, NOW, due=DUE + dt.timedelta(days=28))
    near_ward = await mum(sessions, NOW, ward=ST_ANDREWS, due=DUE - dt.timedelta(days=28))
    await mum(sessions, NOW, ward=CASTLE)  # Colchester, far away
    await mum(sessions, NOW, due=DUE + dt.timedelta(days=29))
    await mum(sessions, NOW, ward=TRINITY, due=DUE - dt.timedelta(days=29))

    assert set(await _candidates(sessions, her.id)) == {same_ward.id, near_ward.id}


async def test_same_ward_first_then_due_date_gap_then_distance_then_recent_activity(
    sessions: Sessions,
) -> None:
    her = await mum(sessions, NOW)
    week = dt.timedelta(days=7)
    near_two_weeks = await mum(sessions, NOW, ward=TRINITY, due=DUE + 2 * week)
    farther_two_weeks = await mum(sessions, NOW, ward=ST_ANDREWS, due=DUE - 2 * week)
    near_same_day = await mum(sessions, NOW, ward=TRINITY)
    ward_three_weeks = await mum(sessions, NOW, due=DUE - 3 * week)
    ward_one_week_idle = await mum(sessions, NOW - dt.timedelta(days=30), due=DUE + week)
    ward_one_week_active = await mum(
        sessions, NOW, due=DUE - week, last_active_at=NOW - dt.timedelta(hours=1)
    )

    assert await _candidates(sessions, her.id) == [
        ward_one_week_active.id,
        ward_one_week_idle.id,
        ward_three_weeks.id,
        near_same_day.id,
        near_two_weeks.id,
        farther_two_weeks.id,
    ]
    assert await _candidates(sessions, her.id, limit=3) == [
        ward_one_week_active.id,
        ward_one_week_idle.id,
        ward_three_weeks.id,
    ]


async def test_a_short_own_ward_is_topped_up_from_the_wards_around_it(
    sessions: Sessions,
) -> None:
    her = await mum(sessions, NOW)
    ward_mate = await mum(sessions, NOW, due=DUE + dt.timedelta(days=20))
    neighbour = await mum(sessions, NOW, ward=TRINITY)
    farther = await mum(sessions, NOW, ward=ST_ANDREWS)

    assert await _candidates(sessions, her.id, limit=3) == [ward_mate.id, neighbour.id, farther.id]


async def test_never_herself_nor_anyone_without_consent_not_yet_active_or_not_placed(
    sessions: Sessions,
) -> None:
    her = await mum(sessions, NOW)
    await mum(sessions, NOW, consents=False)
    await mum(sessions, NOW, status=ResidentStatus.ONBOARDING)
    await mum(sessions, NOW, status=ResidentStatus.WAITING_FOR_AREA)
    only = await mum(sessions, NOW)

    assert await _candidates(sessions, her.id) == [only.id]


async def test_she_gets_no_candidates_while_she_herself_is_not_in_matching(
    sessions: Sessions,
) -> None:
    await mum(sessions, NOW)
    no_consent = await mum(sessions, NOW, consents=False)
    onboarding = await mum(sessions, NOW, status=ResidentStatus.ONBOARDING)

    assert await _candidates(sessions, no_consent.id) == []
    assert await _candidates(sessions, onboarding.id) == []
    assert await _candidates(sessions, 999_999) == []


async def test_asked_introduced_declined_or_expired_pairs_never_meet_again_either_way(
    sessions: Sessions,
) -> None:
    her = await mum(sessions, NOW)
    others = {status: await mum(sessions, NOW) for status in IntroductionStatus}
    async with sessions() as session, session.begin():
        for index, (status, other) in enumerate(others.items()):
            asker, asked = (her, other) if index % 2 else (other, her)
            low, high = sorted((her.id, other.id))
            session.add(
                MatchIntroduction(
                    requester_id=asker.id,
                    recipient_id=asked.id,
                    pair_key=f"{low}:{high}",
                    status=status,
                    created_at=NOW,
                    expires_at=NOW + dt.timedelta(days=7),
                )
            )

    assert await _candidates(sessions, her.id) == [others[IntroductionStatus.CANCELLED].id]


async def test_blocked_or_reported_by_either_side_are_never_suggested(sessions: Sessions) -> None:
    her = await mum(sessions, NOW)
    she_blocked, blocked_her, she_reported, reported_her = [
        await mum(sessions, NOW) for _ in "abcd"
    ]
    fine = await mum(sessions, NOW)
    async with sessions() as session, session.begin():
        session.add(MatchBlock(blocker_id=her.id, blocked_id=she_blocked.id, created_at=NOW))
        session.add(MatchBlock(blocker_id=blocked_her.id, blocked_id=her.id, created_at=NOW))
        session.add(MatchReport(reporter_id=her.id, reported_id=she_reported.id, created_at=NOW))
        session.add(MatchReport(reporter_id=reported_her.id, reported_id=her.id, created_at=NOW))

    assert await _candidates(sessions, her.id) == [fine.id]
    for other in (she_blocked, blocked_her, she_reported, reported_her):
        assert her.id not in await _candidates(sessions, other.id)


async def test_one_person_is_shown_in_at_most_the_capped_number_of_open_proposals(
    sessions: Sessions,
) -> None:
    popular = await mum(sessions, NOW, last_active_at=NOW + dt.timedelta(days=30))
    viewers = [await mum(sessions, NOW + dt.timedelta(days=d)) for d in range(1, 8)]
    rules = dataclasses.replace(RULES, max_open_per_person=3, shown=1)
    shown_popular = 0
    for viewer in viewers:
        async with sessions() as session, session.begin():
            suggested = await suggest(session, viewer.id, NOW, rules, neighbours())
        shown_popular += sum(1 for s in suggested if s.candidate.resident_id == popular.id)

    assert shown_popular == 3


async def test_a_lapsed_suggestion_no_longer_counts_towards_the_cap(sessions: Sessions) -> None:
    popular = await mum(sessions, NOW)
    viewer = await mum(sessions, NOW)
    rules = dataclasses.replace(RULES, max_open_per_person=1, suggestion_days=1)
    async with sessions() as session, session.begin():
        await suggest(session, viewer.id, NOW, rules, neighbours())
    other_viewer = await mum(sessions, NOW)

    async with sessions() as session, session.begin():
        now_full = await find_candidates(session, other_viewer.id, NOW, rules, neighbours())
        later = NOW + dt.timedelta(days=2)
        after_lapse = await find_candidates(session, other_viewer.id, later, rules, neighbours())

    assert popular.id not in [c.resident_id for c in now_full]
    assert popular.id in [c.resident_id for c in after_lapse]


async def test_the_distance_and_the_due_date_window_are_configurable(sessions: Sessions) -> None:
    her = await mum(sessions, NOW)
    near = await mum(sessions, NOW, ward=TRINITY)
    farther = await mum(sessions, NOW, ward=ST_ANDREWS, due=DUE + dt.timedelta(days=10))

    tight = MatchRules(distance_km=2.0, window_days=7)

    assert await _candidates(sessions, her.id, tight) == [near.id]
    assert await _candidates(sessions, her.id, MatchRules(distance_km=2.9)) == [near.id, farther.id]


async def test_withdrawing_matching_consent_takes_her_out_of_every_list_at_once(
    sessions: Sessions,
) -> None:
    her = await mum(sessions, NOW)
    other = await mum(sessions, NOW)
    evidence = consent_evidence(NOW, "button:pv:matching:off", "privacy")
    async with sessions() as session, session.begin():
        await set_consent(session, her.telegram_user_id, ConsentPurpose.MATCHING, False, evidence)

    assert await _candidates(sessions, other.id) == []
    assert await _candidates(sessions, her.id) == []

    evidence = dataclasses.replace(evidence, method="button:pv:matching:on")
    async with sessions() as session, session.begin():
        await set_consent(session, her.telegram_user_id, ConsentPurpose.MATCHING, True, evidence)

    assert await _candidates(sessions, other.id) == [her.id]


def test_ward_neighbours_are_symmetric_and_within_the_distance() -> None:
    near = neighbours()
    for km, code in near.around(CENTRAL):
        assert km <= 3.0
        assert near.distance(code, CENTRAL) == near.distance(CENTRAL, code) == km
    assert near.around(CENTRAL)[0] == (0.0, CENTRAL)
    assert near.distance(CENTRAL, CASTLE) is None
