"""The delivery engine: Telegram's limits, faults, quiet hours, cancelling, crashes, two workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.db import create_engine, create_sessionmaker
from bot.delivery import queue
from bot.delivery.engine import DeliveryEngine
from bot.delivery.queue import BatchProgress, NewDelivery
from bot.delivery.sender import BulkSender
from bot.sandbox.fake_api import FakeTelegram, FakeUser, FloodControl
from bot.sandbox.fake_transport import FakeTransport
from models import Delivery, DeliveryStatus, Resident
from tests.factories import make_resident
from tests.harness import schema_checked, settings_for_test

Sessions = async_sessionmaker[AsyncSession]
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def fake(clock: FixedClock) -> Iterator[FakeTelegram]:
    """A fake whose flood limits run on the test's clock, so pacing is checked exactly."""
    yield from schema_checked(
        FakeTelegram(
            clock=lambda: clock.now().timestamp(),
            # A little more tolerance than the engine's own catch-up allowance of one send.
            flood=FloodControl(clock=lambda: clock.now().timestamp(), tolerance=0.05),
        )
    )


@pytest.fixture
async def sender(fake: FakeTelegram) -> AsyncIterator[BulkSender]:
    """The engine's bulk sender, as post_init makes it, on the in-process fake."""
    bulk = BulkSender(f"https://bot-api.invalid/bot{fake.token}", 16, transport=FakeTransport(fake))
    yield bulk
    await bulk.aclose()


class World:
    """Residents with Telegram accounts on the fake, the queue, and engines to send it."""

    def __init__(
        self, fake: FakeTelegram, sender: BulkSender, sessions: Sessions, clock: FixedClock
    ) -> None:
        self.fake = fake
        self.sender = sender
        self.sessions = sessions
        self.clock = clock

    def engine(
        self, sessions: Sessions | None = None, worker_id: str | None = None, **settings: Any
    ) -> DeliveryEngine:
        return DeliveryEngine(
            sessions or self.sessions,
            self.sender,
            self.clock,
            settings_for_test(self.fake.token, "sqlite+aiosqlite://", **settings),
            worker_id=worker_id,
            sleep=self.clock.sleep,
        )

    async def residents(self, count: int) -> list[FakeUser]:
        users = [self.fake.new_user(f"Mum {n}", started=True) for n in range(count)]
        async with self.sessions() as session, session.begin():
            for user in users:
                await make_resident(session, self.clock.now(), telegram_user_id=user.id)
        return users

    async def queue(
        self,
        users: list[FakeUser],
        *,
        batch: str = "broadcast:1",
        key: str = "broadcast:1",
        paid: bool = False,
        at: dt.datetime | None = None,
        buttons: list[list[dict[str, Any]]] | None = None,
    ) -> None:
        async with self.sessions() as session, session.begin():
            rows = await session.execute(select(Resident.telegram_user_id, Resident.id))
            ids = {telegram_id: resident_id for telegram_id, resident_id in rows}
            items = [
                NewDelivery(
                    ids[user.id],
                    key,
                    batch,
                    "broadcast",
                    f"<b>Hello</b> from {key}",
                    at or self.clock.now(),
                    buttons=buttons,
                    paid=paid,
                )
                for user in users
            ]
            await queue.enqueue(session, items, self.clock.now())

    async def rows(self) -> list[Delivery]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Delivery).order_by(Delivery.id)))

    def received(self, user: FakeUser) -> int:
        return len(self.fake.messages(user.id))

    def send_times(self) -> list[dt.datetime]:
        """When each accepted sendMessage happened, by the test clock (recorded by spy())."""
        return self._times

    def spy(self, on_send: Callable[[int], Awaitable[None]] | None = None) -> None:
        """Record the clock at every accepted send; optionally act after the n-th one."""
        self._times: list[dt.datetime] = []
        real_call = self.fake.call

        async def call(method: str, params: Any, files: Any = None) -> dict[str, Any]:
            response = await real_call(method, params, files)
            if method == "sendMessage" and response.get("ok"):
                self._times.append(self.clock.now())
                if on_send is not None:
                    await on_send(len(self._times))
            return response

        self.fake.call = call  # type: ignore[method-assign]


@pytest.fixture
def world(fake: FakeTelegram, sender: BulkSender, sessions: Sessions, clock: FixedClock) -> World:
    return World(fake, sender, sessions, clock)


def local(
    year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


async def test_every_queued_message_is_sent_once_and_recorded(world: World) -> None:
    users = await world.residents(5)
    await world.queue(users, buttons=[[{"text": "Book a class", "url": "https://example.org/"}]])

    report = await world.engine().run_until_idle()

    assert (report.sent, report.failed, report.skipped) == (5, 0, 0)
    assert [world.received(user) for user in users] == [1] * 5
    message = world.fake.last_message(users[0])
    assert message.plain_text == "Hello from broadcast:1"
    assert message.button_texts() == ["Book a class"]
    rows = await world.rows()
    assert {row.status for row in rows} == {DeliveryStatus.SENT}
    assert all(row.telegram_message_id and row.sent_at for row in rows)


async def test_sends_are_paced_to_the_overall_limit_so_telegram_never_refuses_one(
    world: World,
) -> None:
    users = await world.residents(90)
    await world.queue(users)
    world.spy()

    await world.engine().run_until_idle()

    times = world.send_times()
    assert len(times) == 90
    assert world.fake.flood is not None and world.fake.flood.refused == 0
    # 90 messages at 30 a second, after a catch-up allowance of two, take about three seconds.
    assert 2.8 <= (times[-1] - times[0]).total_seconds() <= 3.2


async def test_one_chat_gets_at_most_one_message_a_second(world: World) -> None:
    [user] = await world.residents(1)
    for n in range(3):
        await world.queue([user], key=f"week:{n}", batch="daily")
    world.spy()

    report = await world.engine().run_until_idle()

    assert report.sent == 3
    times = world.send_times()
    assert all((b - a).total_seconds() >= 1.0 for a, b in itertools.pairwise(times))


async def test_a_chat_waiting_for_its_turn_does_not_hold_up_everyone_else(world: World) -> None:
    first, *others = await world.residents(11)
    await world.queue([first], key="a")
    await world.queue([first], key="b")
    await world.queue(others, key="c")
    world.spy()

    await world.engine().run_until_idle()

    # Her second message waits a second; the ten others go meanwhile, at 30 a second.
    times = world.send_times()
    assert (times[-1] - times[0]).total_seconds() == pytest.approx(1.0, abs=0.05)
    assert world.received(first) == 2


async def test_paid_broadcast_rows_pass_allow_paid_broadcast_and_go_up_to_1000_a_second(
    world: World,
) -> None:
    users = await world.residents(300)
    await world.queue(users, paid=True)
    world.spy()

    await world.engine().run_until_idle()

    calls = world.fake.calls_to("sendMessage")
    assert len(calls) == 300
    assert all(call.params.get("allow_paid_broadcast") is True for call in calls)
    times = world.send_times()
    assert (times[-1] - times[0]).total_seconds() < 0.35


async def test_a_429_pauses_every_send_for_retry_after_then_carries_on(world: World) -> None:
    users = await world.residents(10)
    await world.queue(users)
    world.spy()
    world.fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    started = world.clock.now()

    report = await world.engine().run_until_idle()

    assert report.sent == 10
    assert report.retried == 1
    assert [world.received(user) for user in users] == [1] * 10
    # Only the send already in flight with the refused one went; then nothing for seven seconds.
    times = world.send_times()
    assert sum(moment == started for moment in times) <= 1
    assert all(moment - started >= dt.timedelta(seconds=7) for moment in times if moment != started)
    rows = await world.rows()
    assert all(row.attempts == 1 for row in rows)  # a flood pause is not the row's fault


async def test_a_blocked_resident_is_marked_unreachable_and_skipped_from_then_on(
    world: World,
) -> None:
    blocker, other = await world.residents(2)
    world.fake.block_bot(blocker)
    await world.queue([blocker, other], key="one")
    await world.queue([blocker], key="two")

    report = await world.engine().run_until_idle()

    assert (report.sent, report.skipped) == (1, 2)
    assert len(world.fake.calls_to("sendMessage")) == 2  # her second message was not tried
    rows = await world.rows()
    mine = [row for row in rows if row.status is not DeliveryStatus.SENT]
    assert {row.status for row in mine} == {DeliveryStatus.SKIPPED}
    assert any("blocked by the user" in (row.error or "") for row in mine)
    await world.queue([blocker, other], key="three")
    again = await world.engine().run_until_idle()
    assert again.sent == 1
    assert len(world.fake.calls_to("sendMessage")) == 3  # she was never tried again
    async with world.sessions() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.telegram_user_id == blocker.id)
        )
    assert resident is not None and resident.unreachable_since == world.clock.now()


@pytest.mark.parametrize(
    ("code", "description"),
    [
        (400, "Bad Request: chat not found"),
        (403, "Forbidden: user is deactivated"),
    ],
)
async def test_a_chat_that_is_gone_counts_as_unreachable(
    world: World, code: int, description: str
) -> None:
    [user] = await world.residents(1)
    await world.queue([user])
    world.fake.fail_next("sendMessage", error_code=code, description=description)

    report = await world.engine().run_until_idle()

    assert report.skipped == 1
    [row] = await world.rows()
    assert row.status is DeliveryStatus.SKIPPED
    assert description.partition(": ")[2].lower() in (row.error or "").lower()


async def test_server_errors_and_timeouts_are_retried_with_growing_waits(world: World) -> None:
    [user] = await world.residents(1)
    await world.queue([user])
    world.fake.fail_next("sendMessage", error_code=500, description="Internal Server Error")
    world.fake.time_out_next("sendMessage")
    started = world.clock.now()

    report = await world.engine().run_until_idle()

    assert (report.sent, report.retried) == (1, 2)
    assert world.received(user) == 1
    [row] = await world.rows()
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 3)
    # Two seconds after the first failure, four after the second.
    assert world.clock.now() - started >= dt.timedelta(seconds=6)


async def test_after_the_last_attempt_a_message_fails_visibly_with_its_error(
    world: World,
) -> None:
    [user] = await world.residents(1)
    await world.queue([user])
    world.fake.fail_next("sendMessage", error_code=502, description="Bad Gateway", times=10)

    report = await world.engine(delivery_max_attempts=3).run_until_idle()

    assert (report.sent, report.failed, report.retried) == (0, 1, 2)
    [row] = await world.rows()
    assert row.status is DeliveryStatus.FAILED
    assert row.error is not None and "gave up after 3 attempts" in row.error
    assert "Bad Gateway" in row.error


async def test_a_message_telegram_rejects_as_malformed_fails_at_once(world: World) -> None:
    [user] = await world.residents(1)
    await world.queue([user])
    world.fake.fail_next(
        "sendMessage", error_code=400, description="Bad Request: can't parse entities"
    )

    report = await world.engine().run_until_idle()

    assert report.failed == 1
    [row] = await world.rows()
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 1)


async def test_a_timeout_after_telegram_delivered_is_the_one_case_that_can_repeat(
    world: World,
) -> None:
    [user] = await world.residents(1)
    await world.queue([user])
    world.fake.time_out_next("sendMessage", delivered=True)

    await world.engine().run_until_idle()

    # Documented bound: a send whose answer never came back is retried, so she may see it twice.
    assert world.received(user) == 2


@pytest.mark.parametrize(
    ("evening", "morning"),
    [
        # An ordinary winter night (GMT).
        (local(2026, 12, 1, 21, 30), local(2026, 12, 2, 8)),
        # Clocks go forward at 01:00 on 28 March 2027: 08:00 BST is 07:00 UTC.
        (local(2027, 3, 27, 22, 0), local(2027, 3, 28, 8)),
        # Clocks go back at 02:00 on 31 October 2027: 08:00 GMT is 08:00 UTC.
        (local(2027, 10, 30, 23, 15), local(2027, 10, 31, 8)),
    ],
)
async def test_messages_due_in_quiet_hours_wait_until_eight_in_the_morning(
    world: World, clock: FixedClock, evening: dt.datetime, morning: dt.datetime
) -> None:
    [user] = await world.residents(1)
    clock.set(evening)
    await world.queue([user])
    engine = world.engine()

    assert (await engine.run_until_idle()).sent == 0
    [row] = await world.rows()
    assert row.not_before == morning.astimezone(dt.UTC)
    clock.set(morning - dt.timedelta(minutes=1))
    assert (await engine.run_until_idle()).sent == 0
    clock.set(morning)
    assert (await engine.run_until_idle()).sent == 1
    assert world.received(user) == 1


async def test_a_send_running_into_nine_pm_stops_and_resumes_at_eight(
    world: World, clock: FixedClock
) -> None:
    users = await world.residents(150)
    clock.set(local(2026, 12, 1, 20, 59, 58))
    await world.queue(users)
    world.spy()

    first = await world.engine().run_until_idle()

    assert 55 <= first.sent <= 65
    assert all(t.astimezone(LONDON).hour < 21 for t in world.send_times())
    waiting = [row for row in await world.rows() if row.status is DeliveryStatus.QUEUED]
    assert len(waiting) == 150 - first.sent
    assert {row.not_before for row in waiting} == {local(2026, 12, 2, 8).astimezone(dt.UTC)}
    clock.set(local(2026, 12, 2, 8))
    second = await world.engine().run_until_idle()
    assert first.sent + second.sent == 150
    assert [world.received(user) for user in users] == [1] * 150


async def test_cancelling_a_batch_mid_send_stops_it_within_the_claim_in_hand(
    world: World,
) -> None:
    users = await world.residents(200)
    await world.queue(users)
    engine = world.engine()

    async def cancel_after(count: int) -> None:
        if count == 40:
            engine.cancel("broadcast:1")
            async with world.sessions() as session, session.begin():
                await queue.cancel_open(session, batch="broadcast:1")

    world.spy(cancel_after)
    report = await engine.run_until_idle()

    assert report.sent == 40
    statuses = [row.status for row in await world.rows()]
    assert statuses.count(DeliveryStatus.SENT) == 40
    assert statuses.count(DeliveryStatus.CANCELLED) == 160


async def test_progress_listeners_hear_the_counts_and_the_end(world: World) -> None:
    users = await world.residents(200)
    await world.queue(users)
    engine = world.engine()
    heard: list[BatchProgress] = []

    async def listen(progress: BatchProgress) -> None:
        heard.append(progress)

    engine.add_progress_listener("broadcast:1", listen)
    await engine.run_until_idle()

    assert len(heard) >= 3  # every few seconds over a seven-second send, and at the end
    assert heard[0].left > 0
    assert heard[-1].left == 0
    assert heard[-1].counts[DeliveryStatus.SENT] == 200


async def test_a_crash_mid_send_is_resumed_after_the_lease_without_skipping_anyone(
    world: World, clock: FixedClock
) -> None:
    users = await world.residents(120)
    await world.queue(users)
    crashed = world.engine(delivery_lease_seconds=30)
    running = asyncio.ensure_future(crashed.run_until_idle())

    async def crash_after(count: int) -> None:
        if count == 50:
            running.cancel()

    world.spy(crash_after)
    with pytest.raises(asyncio.CancelledError):
        await running
    stranded = [row.id for row in await world.rows() if row.status is DeliveryStatus.SENDING]
    assert stranded, "the crash should leave claimed rows behind"

    resumed = world.engine(delivery_lease_seconds=30, worker_id="after-restart")
    assert (await resumed.run_until_idle()).sent < len(users) - 50
    clock.advance(dt.timedelta(seconds=31))
    await resumed.run_until_idle()

    counts = [world.received(user) for user in users]
    assert min(counts) == 1  # nobody skipped
    # Only what was in flight or sent-but-unrecorded at the crash can repeat.
    assert sum(counts) - len(users) <= len(stranded)
    assert {row.status for row in await world.rows()} == {DeliveryStatus.SENT}


async def test_a_crash_at_paid_rates_repeats_at_most_four_times_the_sends_in_flight(
    world: World, clock: FixedClock
) -> None:
    # Answers arrive faster than they can be written; a send keeps a place until its outcome is
    # committed, so at most 4 * delivery_max_in_flight messages are ever sent but unrecorded.
    users = await world.residents(300)
    await world.queue(users, paid=True)
    crashed = world.engine(delivery_lease_seconds=30, delivery_max_in_flight=2)
    running = asyncio.ensure_future(crashed.run_until_idle())
    unrecorded_at_each_send: list[int] = []

    async def crash_after(count: int) -> None:
        async with world.sessions() as session:
            recorded = await session.scalar(
                select(func.count()).where(Delivery.status == DeliveryStatus.SENT)
            )
        unrecorded_at_each_send.append(count - int(recorded or 0))
        if count == 150:
            running.cancel()

    world.spy(crash_after)
    with pytest.raises(asyncio.CancelledError):
        await running
    assert max(unrecorded_at_each_send) <= 4 * 2

    resumed = world.engine(delivery_lease_seconds=30, worker_id="after-restart")
    await resumed.run_until_idle()
    clock.advance(dt.timedelta(seconds=31))
    await resumed.run_until_idle()

    counts = [world.received(user) for user in users]
    assert min(counts) == 1  # nobody skipped
    assert sum(counts) - len(users) <= 4 * 2
    assert {row.status for row in await world.rows()} == {DeliveryStatus.SENT}


async def test_two_engines_on_one_database_never_send_a_message_twice(
    world: World, database_url: str
) -> None:
    users = await world.residents(150)
    await world.queue(users)
    second_process = create_engine(database_url)
    try:
        first = world.engine(worker_id="process-a")
        second = world.engine(create_sessionmaker(second_process), worker_id="process-b")
        a, b = await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    finally:
        await second_process.dispose()

    assert a.sent + b.sent == 150
    assert a.sent > 0 and b.sent > 0
    assert [world.received(user) for user in users] == [1] * 150
    claimed_by = {row.claimed_by for row in await world.rows()}
    assert claimed_by == {"process-a", "process-b"}


async def test_the_background_worker_sends_when_woken_and_stops_cleanly(
    fake: FakeTelegram, sender: BulkSender, sessions: Sessions, clock: FixedClock
) -> None:
    world = World(fake, sender, sessions, clock)
    [user] = await world.residents(1)
    engine = DeliveryEngine(
        sessions, sender, clock, settings_for_test(fake.token, "sqlite+aiosqlite://")
    )
    await engine.start()
    try:
        await world.queue([user])
        engine.wake()
        await fake.wait_for_message(user.id, timeout=10)
    finally:
        await engine.stop()
    assert [row.status for row in await world.rows()] == [DeliveryStatus.SENT]
