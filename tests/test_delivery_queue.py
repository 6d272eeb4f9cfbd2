"""The delivery queue: planned once, claimed once, settled, and resumable after a crash."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.delivery import queue
from bot.delivery.queue import NewDelivery
from bot.services.residents.data_rights import forget_resident
from models import Delivery, DeliveryStatus
from tests.factories import TEST_KEY, make_resident

Sessions = async_sessionmaker[AsyncSession]
LEASE = dt.timedelta(seconds=30)


def _item(resident_id: int, key: str, now: dt.datetime, batch: str = "b1") -> NewDelivery:
    return NewDelivery(resident_id, key, batch, "scheduled", f"<b>{key}</b>", now)


async def _residents(sessions: Sessions, now: dt.datetime, count: int) -> list[int]:
    async with sessions() as session, session.begin():
        return [(await make_resident(session, now)).id for _ in range(count)]


async def _statuses(sessions: Sessions) -> list[DeliveryStatus]:
    async with sessions() as session:
        return list(await session.scalars(select(Delivery.status).order_by(Delivery.id)))


async def test_planning_the_same_item_twice_queues_it_once(
    sessions: Sessions, clock: FixedClock
) -> None:
    [resident] = await _residents(sessions, clock.now(), 1)
    for _ in range(2):
        async with sessions() as session, session.begin():
            new = await queue.enqueue(
                session, [_item(resident, "week:20", clock.now())], clock.now()
            )
    assert new == 0
    assert await _statuses(sessions) == [DeliveryStatus.QUEUED]


async def test_a_claimed_row_is_not_claimed_again_until_its_lease_runs_out(
    sessions: Sessions, clock: FixedClock
) -> None:
    [resident] = await _residents(sessions, clock.now(), 1)
    async with sessions() as session, session.begin():
        await queue.enqueue(session, [_item(resident, "week:20", clock.now())], clock.now())
        first = await queue.claim(session, "w1", clock.now(), 10, LEASE)
    async with sessions() as session, session.begin():
        again = await queue.claim(session, "w2", clock.now(), 10, LEASE)
    clock.advance(LEASE + dt.timedelta(seconds=1))
    async with sessions() as session, session.begin():
        after_crash = await queue.claim(session, "w2", clock.now(), 10, LEASE)

    assert [c.id for c in first] == [c.id for c in after_crash]
    assert again == []
    assert after_crash[0].attempts == 2


async def test_rows_not_yet_due_wait_for_their_time(sessions: Sessions, clock: FixedClock) -> None:
    [resident] = await _residents(sessions, clock.now(), 1)
    later = clock.now() + dt.timedelta(hours=10)
    async with sessions() as session, session.begin():
        await queue.enqueue(
            session, [NewDelivery(resident, "k", "b", "scheduled", "t", later)], clock.now()
        )
        assert await queue.claim(session, "w", clock.now(), 10, LEASE) == []
        assert await queue.next_due(session) == later


async def test_an_unreachable_resident_is_skipped_and_her_queue_emptied(
    sessions: Sessions, clock: FixedClock
) -> None:
    first, second = await _residents(sessions, clock.now(), 2)
    async with sessions() as session, session.begin():
        await queue.enqueue(
            session,
            [
                _item(first, "a", clock.now()),
                _item(first, "b", clock.now()),
                _item(second, "a", clock.now()),
            ],
            clock.now(),
        )
        [claimed, *_] = await queue.claim(session, "w", clock.now(), 1, LEASE)
        await queue.mark_unreachable(session, claimed.chat_id, clock.now())
        await queue.settle(session, [claimed.id], DeliveryStatus.FAILED, clock.now(), error="403")
        rest = await queue.claim(session, "w", clock.now(), 10, LEASE)

    assert len(rest) == 1
    assert await _statuses(sessions) == [
        DeliveryStatus.FAILED,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.SENDING,
    ]


async def test_progress_counts_each_state_of_a_batch(sessions: Sessions, clock: FixedClock) -> None:
    residents = await _residents(sessions, clock.now(), 3)
    async with sessions() as session, session.begin():
        await queue.enqueue(
            session, [_item(r, "x", clock.now(), "broadcast:1") for r in residents], clock.now()
        )
        claimed = await queue.claim(session, "w", clock.now(), 2, LEASE)
        await queue.record_sent(session, [(claimed[0].id, 99)], clock.now())
        await queue.retry_later(session, [claimed[1].id], clock.now(), "timeout")
        progress = await queue.batch_progress(session, "broadcast:1")

    assert progress.total == 3
    assert progress.left == 2
    assert progress.counts[DeliveryStatus.SENT] == 1


async def test_cancelling_a_batch_leaves_claimed_rows_to_finish(
    sessions: Sessions, clock: FixedClock
) -> None:
    residents = await _residents(sessions, clock.now(), 3)
    async with sessions() as session, session.begin():
        await queue.enqueue(
            session, [_item(r, "x", clock.now(), "broadcast:2") for r in residents], clock.now()
        )
        await queue.claim(session, "w", clock.now(), 1, LEASE)
        cancelled = await queue.cancel_open(session, batch="broadcast:2")
    assert cancelled == 2


async def test_two_workers_claiming_at_once_never_share_a_row(
    sessions: Sessions, clock: FixedClock
) -> None:
    residents = await _residents(sessions, clock.now(), 40)
    async with sessions() as session, session.begin():
        await queue.enqueue(session, [_item(r, "x", clock.now()) for r in residents], clock.now())

    async def worker(name: str) -> list[int]:
        got: list[int] = []
        while True:
            async with sessions() as session, session.begin():
                batch = await queue.claim(session, name, clock.now(), 5, LEASE)
            if not batch:
                return got
            got.extend(c.id for c in batch)

    first, second = await asyncio.gather(worker("a"), worker("b"))
    assert not set(first) & set(second)
    assert len(first) + len(second) == 40


async def test_forgetting_a_resident_removes_her_deliveries(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        resident = await make_resident(session, clock.now())
        await queue.enqueue(session, [_item(resident.id, "x", clock.now())], clock.now())
    async with sessions() as session, session.begin():
        await forget_resident(session, resident.telegram_user_id, TEST_KEY, clock.now())
    assert await _statuses(sessions) == []
