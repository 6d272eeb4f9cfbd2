"""The daily plan: the right week message and "near you" message, once, by day, never at night."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.clock import FixedClock
from bot.services.local_info import planning
from bot.services.residents.consent import record_consent
from bot.services.residents.profile import set_consent
from models import ConsentPurpose, Delivery, DeliveryStatus, PlanningRun, Resident
from tests.content_support import (
    LONDON,
    Sessions,
    at_local,
    deliveries,
    due_for_week,
    load_sample,
    plan,
    queued,
)
from tests.database import postgres_url
from tests.factories import consent_evidence, make_resident

MORNING = at_local(2026, 11, 30, 9, 30)
TODAY = MORNING.date()


async def _resident(sessions: Sessions, now: dt.datetime, **fields: Any) -> Resident:
    async with sessions() as session, session.begin():
        return await make_resident(session, now, **fields)


async def _weeks(
    sessions: Sessions, resident_id: int, status: DeliveryStatus | None = None
) -> list[str]:
    keys = await queued(sessions, resident_id, status=status)
    return [k for k in keys if k.startswith(("pregnancy:", "postnatal:"))]


@pytest.fixture
async def content(sessions: Sessions) -> None:
    """The Essex sample content, loaded."""
    await load_sample(sessions, MORNING)


@pytest.mark.usefixtures("content")
async def test_a_resident_whose_week_starts_today_gets_that_weeks_message(
    sessions: Sessions,
) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))

    result = await plan(sessions, MORNING)

    assert await _weeks(sessions, mum.id) == ["pregnancy:20"]
    assert result.weeks == 1


@pytest.mark.usefixtures("content")
async def test_signing_up_on_the_boundary_day_after_the_run_still_gets_that_weeks_message(
    sessions: Sessions,
) -> None:
    await plan(sessions, MORNING)
    # She joins at 14:00 on the day her week 20 begins, after today's run.
    afternoon = MORNING + dt.timedelta(hours=4, minutes=30)
    mum = await _resident(sessions, afternoon, due_date=due_for_week(TODAY, 20))

    await plan(sessions, MORNING + dt.timedelta(days=1))

    assert await _weeks(sessions, mum.id) == ["pregnancy:20"]


@pytest.mark.usefixtures("content")
async def test_each_week_message_is_queued_once_as_the_weeks_go_by(sessions: Sessions) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20, day=3))

    for day in range(8):
        await plan(sessions, MORNING + dt.timedelta(days=day))

    # 20+3 today, 21+0 four days later.
    assert await _weeks(sessions, mum.id) == [
        "pregnancy:20",
        "pregnancy:21",
    ]


@pytest.mark.usefixtures("content")
async def test_planning_again_after_a_restart_mid_run_queues_nothing_twice(
    sessions: Sessions,
) -> None:
    mums = [
        await _resident(sessions, MORNING, due_date=due_for_week(TODAY, week))
        for week in (12, 20, 30)
    ]
    first = await plan(sessions, MORNING)

    # The process died after the rows were committed; at start-up the run happens again.
    again = await plan(sessions, MORNING + dt.timedelta(minutes=5))

    assert first.queued > 0
    assert again.queued == 0
    for mum in mums:
        keys = await queued(sessions, mum.id)
        assert len(keys) == len(set(keys))


@pytest.mark.usefixtures("content")
async def test_two_workers_planning_at_once_queue_each_message_once(sessions: Sessions) -> None:
    for i in range(30):
        await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 8 + i))

    first, second = await asyncio.gather(plan(sessions, MORNING), plan(sessions, MORNING))

    async with sessions() as session:
        rows = list(await session.execute(select(Delivery.resident_id, Delivery.content_key)))
    assert len(rows) == len(set(rows)) == first.queued + second.queued
    assert len(rows) >= 30


@pytest.mark.usefixtures("content")
async def test_only_residents_who_chose_local_information_and_can_be_reached_are_planned(
    sessions: Sessions,
) -> None:
    due = due_for_week(TODAY, 20)
    yes = await _resident(sessions, MORNING, due_date=due)
    never = await _resident(sessions, MORNING, due_date=due, consents=False)
    withdrew = await _resident(sessions, MORNING, due_date=due)
    blocked = await _resident(sessions, MORNING, due_date=due, unreachable_since=MORNING)
    async with sessions() as session, session.begin():
        await set_consent(
            session,
            withdrew.telegram_user_id,
            ConsentPurpose.LOCAL_INFO,
            False,
            consent_evidence(MORNING),
        )

    await plan(sessions, MORNING)

    assert await _weeks(sessions, yes.id) == ["pregnancy:20"]
    for mum in (never, withdrew, blocked):
        assert await queued(sessions, mum.id) == []


@pytest.mark.usefixtures("content")
async def test_withdrawing_local_information_cancels_her_queued_messages_at_once(
    sessions: Sessions,
) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))
    other = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))
    await plan(sessions, MORNING)

    async with sessions() as session, session.begin():
        await set_consent(
            session,
            mum.telegram_user_id,
            ConsentPurpose.LOCAL_INFO,
            False,
            consent_evidence(MORNING, "button:pv:local_info:off"),
        )

    assert await queued(sessions, mum.id, status=DeliveryStatus.QUEUED) == []
    assert await _weeks(sessions, mum.id, DeliveryStatus.CANCELLED) == ["pregnancy:20"]
    assert await _weeks(sessions, other.id, DeliveryStatus.QUEUED) == ["pregnancy:20"]


async def _withdraw(sessions: Sessions, mum: Resident) -> None:
    async with sessions() as session, session.begin():
        await set_consent(
            session,
            mum.telegram_user_id,
            ConsentPurpose.LOCAL_INFO,
            False,
            consent_evidence(MORNING, "button:pv:local_info:off"),
        )


@pytest.mark.skipif(postgres_url() is None, reason="true concurrency needs PostgreSQL")
@pytest.mark.usefixtures("content")
async def test_a_withdrawal_during_the_plan_waits_for_it_then_cancels_what_it_queued(
    sessions: Sessions,
) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))

    async with sessions() as session, session.begin():
        await planning.plan_day(session, MORNING, LONDON)
        withdrawal = asyncio.create_task(_withdraw(sessions, mum))
        await asyncio.sleep(0.3)
        waited = not withdrawal.done()
    await withdrawal

    assert waited
    assert await queued(sessions, mum.id, status=DeliveryStatus.QUEUED) == []
    assert await _weeks(sessions, mum.id, DeliveryStatus.CANCELLED) == ["pregnancy:20"]


@pytest.mark.skipif(postgres_url() is None, reason="true concurrency needs PostgreSQL")
@pytest.mark.usefixtures("content")
async def test_a_withdrawal_begun_before_the_plan_and_finished_after_still_cancels_everything(
    sessions: Sessions,
) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))

    async with sessions() as withdrawing, withdrawing.begin():
        # Her choice is recorded but not yet committed when the plan reads who wants messages.
        await record_consent(
            withdrawing, mum.person_ref, ConsentPurpose.LOCAL_INFO, False, consent_evidence(MORNING)
        )
        await withdrawing.execute(
            update(Resident).where(Resident.id == mum.id).values(local_info_consent=False)
        )
        await withdrawing.flush()
        await plan(sessions, MORNING)
        planned_for_her = await _weeks(sessions, mum.id)
        await planning.cancel_local_info(withdrawing, mum.id)

    assert planned_for_her == ["pregnancy:20"]
    assert await queued(sessions, mum.id, status=DeliveryStatus.QUEUED) == []


@pytest.mark.usefixtures("content")
async def test_near_you_messages_come_one_category_a_week_on_her_weekly_day(
    sessions: Sessions,
) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))

    for day in range(15):
        await plan(sessions, MORNING + dt.timedelta(days=day))

    services = [k for k in await queued(sessions, mum.id) if k.startswith("services:")]
    # Midwife clinics, wellbeing support, then antenatal classes: in the content's order.
    assert services == [
        "services:midwife_clinic",
        "services:perinatal_mental_health",
        "services:antenatal_class",
    ]


@pytest.mark.usefixtures("content")
async def test_a_near_you_message_lists_services_near_her_with_miles(sessions: Sessions) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))

    await plan(sessions, MORNING)

    [service] = [d for d in await deliveries(sessions, mum.id) if d.kind == planning.SERVICES]
    assert "Midwife clinics near you" in service.text
    assert "miles from your neighbourhood" in service.text


@pytest.mark.usefixtures("content")
async def test_week_messages_carry_the_baby_has_arrived_button(sessions: Sessions) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 30))

    await plan(sessions, MORNING)

    [week] = [d for d in await deliveries(sessions, mum.id) if d.kind == planning.WEEK]
    # The row keeps the button's catalogue key, so it is worded in her language when sent.
    assert week.buttons == [
        [
            {
                "text": "🍼 My baby has arrived",
                "callback_data": "le:born",
                "text_key": "content.baby_arrived_button",
            }
        ]
    ]
    assert "30 weeks" in week.text
    assert week.template == f"week:{week.content_key}"


@pytest.mark.usefixtures("content")
async def test_two_weeks_after_the_due_date_she_is_asked_once_whatever_her_choices(
    sessions: Sessions,
) -> None:
    overdue = await _resident(
        sessions, MORNING, due_date=TODAY - dt.timedelta(days=14), consents=False
    )
    not_yet = await _resident(sessions, MORNING, due_date=TODAY - dt.timedelta(days=13))

    for day in range(3):
        await plan(sessions, MORNING + dt.timedelta(days=day))

    assert await queued(sessions, overdue.id) == [planning.OVERDUE_CHECKIN_KEY]
    assert planning.OVERDUE_CHECKIN_KEY in await queued(sessions, not_yet.id)
    [checkin] = await deliveries(sessions, overdue.id)
    assert "due date has been and gone" in checkin.text


async def test_without_loaded_content_planning_queues_no_week_messages(
    sessions: Sessions,
) -> None:
    await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))

    result = await plan(sessions, MORNING)

    assert (result.weeks, result.services) == (0, 0)


@pytest.mark.usefixtures("content")
async def test_each_run_is_recorded_by_its_local_date(sessions: Sessions) -> None:
    await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))
    await plan(sessions, MORNING)
    await plan(sessions, MORNING + dt.timedelta(hours=1))

    async with sessions() as session:
        [run] = list(await session.scalars(select(PlanningRun)))
        assert await planning.has_run(session, TODAY)
        assert not await planning.has_run(session, TODAY + dt.timedelta(days=1))
    assert (run.local_date, run.queued) == (TODAY, 2)  # week 20 and one "near you" message


@pytest.mark.parametrize(
    ("planned_at", "sent_from_utc"),
    [
        # Winter evening: held until 08:00 GMT.
        (at_local(2026, 11, 30, 22, 0), dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)),
        # The night the clocks go forward (28 March 2027): 08:00 BST is 07:00 UTC.
        (at_local(2027, 3, 27, 22, 30), dt.datetime(2027, 3, 28, 7, 0, tzinfo=dt.UTC)),
        # The night the clocks go back (31 October 2027): 08:00 GMT is 08:00 UTC.
        (at_local(2027, 10, 30, 23, 0), dt.datetime(2027, 10, 31, 8, 0, tzinfo=dt.UTC)),
        # Just after midnight, summer: 08:00 BST the same day.
        (at_local(2027, 6, 1, 0, 30), dt.datetime(2027, 6, 1, 7, 0, tzinfo=dt.UTC)),
        # In the day: straight away.
        (at_local(2027, 6, 1, 9, 30), dt.datetime(2027, 6, 1, 8, 30, tzinfo=dt.UTC)),
    ],
)
async def test_a_plan_made_at_night_waits_for_the_morning_across_clock_changes(
    sessions: Sessions, planned_at: dt.datetime, sent_from_utc: dt.datetime
) -> None:
    await load_sample(sessions, planned_at)
    mum = await _resident(sessions, planned_at, due_date=due_for_week(planned_at.date(), 20))

    await plan(sessions, planned_at)

    [week, *_] = await deliveries(sessions, mum.id)
    assert week.not_before == sent_from_utc


@pytest.mark.parametrize(
    ("now", "today", "past"),
    [
        (dt.datetime(2027, 3, 27, 9, 29, tzinfo=dt.UTC), dt.date(2027, 3, 27), False),
        (dt.datetime(2027, 3, 27, 9, 30, tzinfo=dt.UTC), dt.date(2027, 3, 27), True),
        # Summer time: 08:30 UTC is already 09:30 in London.
        (dt.datetime(2027, 3, 29, 8, 30, tzinfo=dt.UTC), dt.date(2027, 3, 29), True),
        (dt.datetime(2027, 3, 29, 8, 29, tzinfo=dt.UTC), dt.date(2027, 3, 29), False),
        # 23:30 UTC on a summer evening is already tomorrow in London.
        (dt.datetime(2027, 7, 1, 23, 30, tzinfo=dt.UTC), dt.date(2027, 7, 2), False),
    ],
)
def test_the_planning_day_and_time_are_local(now: dt.datetime, today: dt.date, past: bool) -> None:
    assert planning.local_today(now, LONDON) == today
    assert planning.is_past(now, LONDON, dt.time(9, 30)) is past


async def test_unreachable_residents_are_never_planned_again(
    sessions: Sessions, clock: FixedClock
) -> None:
    await load_sample(sessions, MORNING)
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))
    async with sessions() as session, session.begin():
        await session.execute(
            update(Resident).where(Resident.id == mum.id).values(unreachable_since=MORNING)
        )

    for day in range(14):
        await plan(sessions, MORNING + dt.timedelta(days=day))

    assert await queued(sessions, mum.id) == []


@pytest.mark.usefixtures("content")
async def test_a_run_that_crashes_before_committing_leaves_nothing_and_runs_again(
    sessions: Sessions,
) -> None:
    mum = await _resident(sessions, MORNING, due_date=due_for_week(TODAY, 20))

    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await planning.plan_day(session, MORNING, LONDON)
            raise RuntimeError("the process died mid-run")
    async with sessions() as session:
        ran = await planning.has_run(session, TODAY)
    await plan(sessions, MORNING + dt.timedelta(minutes=10))

    assert ran is False
    assert await _weeks(sessions, mum.id) == ["pregnancy:20"]
