"""Telegram's limits hold for the bot token: every worker's replies and bulk sends together.

At most 30 messages in any second, never two to one chat within a second; replies go first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import asyncpg
import pytest
from telegram import Update

from bot.app import CONCURRENT_UPDATES, build_application, running
from bot.clock import FixedClock
from bot.context import BotApplication
from bot.db import database_unavailable
from bot.delivery import queue
from bot.delivery.send_limits import (
    STALE_SECONDS,
    DatabaseSendLimits,
    Kind,
    Limits,
    LocalSendLimits,
    SendLimits,
    acquire,
    asyncpg_dsn,
)
from bot.sandbox.fake_api import ApiCall, FakeTelegram, FakeUser
from bot.sandbox.fake_request import FakeRequest
from bot.sandbox.fake_transport import FakeTransport
from tests.conftest import DEFAULT_NOW
from tests.content_support import Sessions
from tests.database import postgres_url
from tests.factories import make_resident
from tests.harness import schema_checked, settings_for_test

on_postgres = pytest.mark.skipif(
    postgres_url() is None, reason="workers share the limits through PostgreSQL only"
)

NOW = DEFAULT_NOW.timestamp()
SMALL = Limits(overall=5, reserve=2, window=1.0, chat_gap=1.0)


@pytest.fixture(params=["memory", "database"])
async def limits(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[SendLimits]:
    """The same rules in memory (SQLite's one process) and in PostgreSQL (every worker)."""
    if request.param == "memory":
        yield LocalSendLimits(SMALL)
        return
    if not database_url.startswith("postgresql"):
        pytest.skip("the shared slots live in PostgreSQL")
    shared = DatabaseSendLimits(database_url, SMALL)
    yield shared
    await shared.aclose()


async def take_all(limits: SendLimits, kind: Kind, chats: range, now: float) -> list[int | None]:
    return [(await limits.take(chat, kind, now)).slot for chat in chats]


async def test_a_busy_chat_waits_a_second_without_holding_up_other_chats(
    limits: SendLimits,
) -> None:
    first = await limits.take(7001, Kind.REPLY, NOW)
    assert first.slot is not None
    await limits.finish(first.slot, NOW + 0.1)

    again = await limits.take(7001, Kind.REPLY, NOW + 0.2)
    other = await limits.take(7002, Kind.REPLY, NOW + 0.2)

    assert again.slot is None and again.chat_busy
    # A second after the answer, not after the request: Telegram counted it on arrival.
    assert again.wait == pytest.approx(0.9)
    assert other.slot is not None
    assert (await limits.take(7001, Kind.REPLY, NOW + 1.15)).slot is not None


async def test_while_residents_write_bulk_sends_leave_the_reserve_to_replies(
    limits: SendLimits,
) -> None:
    first_reply = await limits.take(100, Kind.REPLY, NOW)
    bulk = await take_all(limits, Kind.BULK, range(1, 5), NOW)
    replies = await take_all(limits, Kind.REPLY, range(11, 14), NOW)

    # 5 places, 2 kept for replies while replies come: with the first reply, bulk sends stop at
    # 3; the next two replies go at once, the one after finds every place taken.
    assert first_reply.slot is not None
    assert [slot is not None for slot in bulk] == [True, True, False, False]
    assert [slot is not None for slot in replies] == [True, True, False]


async def test_while_nobody_writes_bulk_sends_leave_one_place_for_the_first_reply(
    limits: SendLimits,
) -> None:
    bulk = await take_all(limits, Kind.BULK, range(1, 6), NOW)
    reply = await limits.take(100, Kind.REPLY, NOW)

    # 5 places: bulk sends take 4, and her reply the one left, at once.
    assert [slot is not None for slot in bulk] == [True, True, True, True, False]
    assert reply.slot is not None


async def test_a_slot_counts_until_a_window_after_its_answer(limits: SendLimits) -> None:
    slots = await take_all(limits, Kind.REPLY, range(1, 6), NOW)
    for slot in slots:
        assert slot is not None
    # Four answered quickly, one still on the wire (it may arrive at any moment).
    for slot in slots[:4]:
        assert slot is not None
        await limits.finish(slot, NOW + 0.05)

    full = await limits.take(99, Kind.REPLY, NOW + 1.0)
    later = await limits.take(99, Kind.REPLY, NOW + 1.06)
    still = await limits.take(98, Kind.REPLY, NOW + 1.07)

    assert full.slot is None and not full.chat_busy
    assert full.wait == pytest.approx(0.05)
    assert later.slot is not None
    # The unanswered one still counts, with the one just taken: 2 of 5, then 3 of 5, ...
    assert still.slot is not None
    assert (await limits.take(97, Kind.REPLY, NOW + STALE_SECONDS + 2)).slot is not None


async def test_paid_broadcasts_exceed_the_overall_places_but_keep_each_chats_second(
    limits: SendLimits,
) -> None:
    paid = await take_all(limits, Kind.PAID, range(1, 21), NOW)
    reply_to_a_paid_chat = await limits.take(3, Kind.REPLY, NOW + 0.5)
    reply_elsewhere = await limits.take(300, Kind.REPLY, NOW + 0.5)
    paid_again = await limits.take(300, Kind.PAID, NOW + 0.6)

    assert all(slot is not None for slot in paid)
    assert reply_to_a_paid_chat.slot is None and reply_to_a_paid_chat.chat_busy
    # Paid broadcasts have their own allowance: replies keep all their places.
    assert reply_elsewhere.slot is not None
    assert paid_again.slot is None and paid_again.chat_busy


async def test_acquire_waits_on_the_injected_clock(clock: FixedClock) -> None:
    limits = LocalSendLimits(SMALL)

    def now() -> float:
        return clock.now().timestamp()

    start = now()
    for _ in range(3):
        slot = await acquire(limits, 42, Kind.REPLY, now, clock.sleep)
        await limits.finish(slot, now())

    assert now() - start == pytest.approx(2.0)


# --- two workers, replying to many chats while a broadcast goes out ----------------------------

RESIDENTS = 36


def most_in_any_second(sends: list[ApiCall]) -> int:
    times = sorted(call.at for call in sends)
    start, most = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def closest_two_to_one_chat(sends: list[ApiCall]) -> float:
    last: dict[object, float] = {}
    closest = float("inf")
    for call in sorted(sends, key=lambda c: c.at):
        chat = call.params["chat_id"]
        if chat in last:
            closest = min(closest, call.at - last[chat])
        last[chat] = call.at
    return closest


def messages_sent(fake: FakeTelegram) -> list[ApiCall]:
    return [
        call
        for call in fake.calls
        if call.method.startswith("send")
        and call.method != "sendChatAction"
        and call.response.get("ok")
    ]


@pytest.fixture
def timed_fake(clock: FixedClock) -> AsyncIterator[FakeTelegram]:  # type: ignore[misc]
    """The fake Bot API noting each call's arrival by the test's clock."""
    yield from schema_checked(FakeTelegram(clock=lambda: clock.now().timestamp()))


@pytest.fixture
async def two_workers(
    timed_fake: FakeTelegram, database_url: str, clock: FixedClock
) -> AsyncIterator[list[BotApplication]]:
    """Two whole bots on one database, each with its own connections, limits on (as deployed)."""
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(2):
            application = build_application(
                settings_for_test(
                    timed_fake.token, database_url, quiet_hours_start=0, quiet_hours_end=0
                ),
                clock=clock,
                request=FakeRequest(timed_fake),
                get_updates_request=FakeRequest(timed_fake),
                delivery_transport=FakeTransport(timed_fake),
                rate_limit=True,
                sleep=clock.sleep,
                delivery_worker=False,
            )
            started.append(await stack.enter_async_context(running(application)))
        yield started


async def queue_broadcast(sessions: Sessions, users: list[FakeUser], now: dt.datetime) -> None:
    async with sessions() as session, session.begin():
        residents = [await make_resident(session, now, telegram_user_id=u.id) for u in users]
        await session.flush()
        await queue.enqueue(
            session,
            [
                queue.NewDelivery(
                    resident_id=r.id,
                    content_key=f"broadcast:{r.id}",
                    batch="bc-1",
                    kind="broadcast",
                    text="The clinic on Friday is closed.",
                    not_before=now,
                )
                for r in residents
            ],
            now,
        )


@on_postgres
async def test_two_workers_replying_while_a_broadcast_goes_out_stay_within_telegrams_limits(
    timed_fake: FakeTelegram, two_workers: list[BotApplication], sessions: Sessions
) -> None:
    fake = timed_fake
    users = [fake.new_user(f"Resident {n}") for n in range(RESIDENTS)]
    await queue_broadcast(sessions, users, DEFAULT_NOW)
    # Each writes twice, her two messages handled by different workers.
    updates = []
    for turn in range(2):
        for n, user in enumerate(users):
            worker = two_workers[(n + turn) % 2]
            updates.append((worker, Update.de_json(fake.send_message(user, "/help"), worker.bot)))
    leader = two_workers[0].bot_data.delivery
    assert leader is not None

    # Each worker handles CONCURRENT_UPDATES at once, as its update fetcher or webhook does.
    turns = {id(worker): asyncio.Semaphore(CONCURRENT_UPDATES) for worker in two_workers}

    async def handle(worker: BotApplication, update: Update) -> None:
        async with turns[id(worker)]:
            await worker.process_update(update)

    broadcast = asyncio.create_task(leader.run_until_idle())
    await asyncio.gather(*(handle(worker, update) for worker, update in updates))
    report = await broadcast

    sends = messages_sent(fake)
    assert report.sent == RESIDENTS
    # Every /help answered (twice each), and the broadcast reached everyone.
    for user in users:
        texts = [m.plain_text for m in fake.messages(user.id)]
        assert sum("clinic on Friday" in t for t in texts) == 1
        assert len(texts) >= 3
    assert len(sends) >= 3 * RESIDENTS
    assert most_in_any_second(sends) <= 30
    # The test's clock moves in whole microseconds and its times go through floats near 1.8e9
    # (resolved to about 2e-7 s): a gap of exactly one second, the next slot opening as the
    # last one ends, can come out a few microseconds under.
    assert closest_two_to_one_chat(sends) >= 1.0 - 1e-5


def test_the_shared_limits_connect_as_the_bot_does_without_the_dialects_own_options() -> None:
    url = (
        "postgresql+asyncpg://bot:secret@db:5432/bumpbuddies"
        "?ssl=require&prepared_statement_cache_size=0"
    )

    assert asyncpg_dsn(url) == "postgresql://bot:secret@db:5432/bumpbuddies?sslmode=require"


class _BrokenConnection:
    """An asyncpg connection PostgreSQL dropped mid-statement, as asyncpg then reports it."""

    def __init__(self, error: Exception, closes: bool) -> None:
        self.error = error
        self.closes = closes
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed

    async def fetchrow(self, *args: object) -> None:
        self.closed = self.closes
        raise self.error

    def terminate(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("error", "closes"),
    [
        (asyncpg.exceptions.InternalClientError("cannot switch to state 15"), False),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), True),
    ],
)
async def test_a_connection_lost_under_the_limits_counts_as_the_database_being_unavailable(
    error: Exception, closes: bool
) -> None:
    # No server behind this address is ever asked: the connection is already there.
    limits = DatabaseSendLimits("postgresql+asyncpg://bot@127.0.0.1:9/none", Limits())
    limits._connection = _BrokenConnection(error, closes)

    with pytest.raises(Exception) as raised:
        await limits.take(7, Kind.REPLY, 0.0)

    assert database_unavailable(raised.value)
    assert limits._connection is None  # made again at the next call
