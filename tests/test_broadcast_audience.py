"""Who a broadcast reaches: audiences, trimesters by due date, and the latest consent choice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.services.residents.consent import record_consent
from bot.services.staff.broadcasts import Audience, audience_conditions, count_recipients
from models import BroadcastPurpose, ConsentPurpose, Resident
from tests.factories import consent_evidence, make_resident

Sessions = async_sessionmaker[AsyncSession]
SERVICE, LOCAL = BroadcastPurpose.SERVICE, BroadcastPurpose.LOCAL_INFO


async def due_in(sessions: Sessions, now: dt.datetime, **days_to_go: int) -> dict[str, int]:
    ids = {}
    async with sessions() as session, session.begin():
        for name, days in days_to_go.items():
            resident = await make_resident(
                session, now, due_date=now.date() + dt.timedelta(days=days), display_name=name
            )
            ids[name] = resident.id
    return ids


async def reached(
    sessions: Sessions, audience: Audience, today: dt.date, purpose: BroadcastPurpose = SERVICE
) -> set[str]:
    async with sessions() as session:
        names = await session.scalars(
            select(Resident.display_name).where(*audience_conditions(audience, purpose, today))
        )
        return {str(name) for name in names}


@pytest.mark.parametrize(
    ("trimester", "expected"),
    [
        (1, {"twelve_weeks_six_days", "just_pregnant"}),
        (2, {"thirteen_weeks", "twenty_seven_weeks_six_days"}),
        (3, {"twenty_eight_weeks", "due_today"}),
    ],
)
async def test_trimesters_follow_the_due_date_on_the_day_it_is_sent(
    sessions: Sessions, clock: FixedClock, trimester: int, expected: set[str]
) -> None:
    # Days still to go for someone this many weeks pregnant: 280 - 7 * weeks.
    await due_in(
        sessions,
        clock.now(),
        just_pregnant=280,
        twelve_weeks_six_days=280 - 90,
        thirteen_weeks=280 - 91,
        twenty_seven_weeks_six_days=280 - 195,
        twenty_eight_weeks=280 - 196,
        due_today=0,
        overdue=-1,
    )

    assert await reached(
        sessions, Audience("trimester", trimester=trimester), clock.now().date()
    ) == (expected)


async def test_postnatal_means_the_due_date_has_passed(
    sessions: Sessions, clock: FixedClock
) -> None:
    await due_in(sessions, clock.now(), due_today=0, last_week=-7, last_year=-300)

    assert await reached(sessions, Audience("postnatal"), clock.now().date()) == {
        "last_week",
        "last_year",
    }


async def test_a_due_date_range_includes_both_ends(sessions: Sessions, clock: FixedClock) -> None:
    await due_in(sessions, clock.now(), before=9, first=10, middle=15, last=20, after=21)
    today = clock.now().date()
    audience = Audience(
        "due_dates", first=today + dt.timedelta(days=10), last=today + dt.timedelta(days=20)
    )

    assert await reached(sessions, audience, today) == {"first", "middle", "last"}


async def test_districts_and_wards_pick_residents_by_where_they_live(
    sessions: Sessions, clock: FixedClock
) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        await make_resident(session, now, display_name="chelmsford")
        await make_resident(
            session, now, display_name="harlow", district_code="E07000073", ward_code="E05015790"
        )
    today = now.date()

    assert await reached(sessions, Audience("districts", codes=("E07000073",)), today) == {"harlow"}
    assert await reached(sessions, Audience("wards", codes=("E05015473",)), today) == {"chelmsford"}
    assert await reached(sessions, Audience("everyone"), today) == {"chelmsford", "harlow"}


async def test_local_information_follows_her_latest_choice(
    sessions: Sessions, clock: FixedClock
) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        said_yes = await make_resident(session, now, display_name="yes")
        changed_mind = await make_resident(session, now, display_name="withdrew")
        came_back = await make_resident(session, now, consents=False, display_name="came_back")
        await make_resident(session, now, consents=False, display_name="never")
        evidence = consent_evidence(now)
        await record_consent(
            session, changed_mind.person_ref, ConsentPurpose.LOCAL_INFO, False, evidence
        )
        await record_consent(
            session, came_back.person_ref, ConsentPurpose.LOCAL_INFO, True, evidence
        )
    del said_yes

    assert await reached(sessions, Audience(), now.date(), LOCAL) == {"yes", "came_back"}
    assert len(await reached(sessions, Audience(), now.date(), SERVICE)) == 4
    async with sessions() as session:
        assert await count_recipients(session, Audience(), LOCAL, now.date()) == 2


async def test_an_incomplete_audience_is_refused(clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="incomplete audience"):
        audience_conditions(Audience("due_dates"), SERVICE, clock.now().date())


def test_an_audience_survives_being_stored_and_read_back() -> None:
    for audience in (
        Audience(),
        Audience("districts", codes=("E07000070", "E07000073")),
        Audience("due_dates", first=dt.date(2027, 1, 1), last=dt.date(2027, 2, 1)),
        Audience("trimester", trimester=2),
    ):
        assert Audience.from_json(audience.as_json()) == audience
