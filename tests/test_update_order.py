"""One chat's updates take turns in Telegram's order, across workers; other chats don't wait.

Each worker here is a whole bot (an Application with its post_init) on the same database, as
`bumpbuddies` workers are. Updates are handed to `process_update` directly, as a webhook
server does, in whatever order the test chooses.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from telegram import Update
from telegram.ext import TypeHandler

from bot.clock import FixedClock
from bot.ordered import OrderedApplication
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.conversations import store as conversation_store
from tests.database import postgres_url
from tests.harness import BotHarness

on_postgres = pytest.mark.skipif(
    postgres_url() is None, reason="more than one worker needs PostgreSQL"
)

BURST = 12


class Watch:
    """Records when each update's handling starts and ends, and can hold one update back."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int]] = []
        self.held: dict[int, asyncio.Event] = {}
        self.holding = asyncio.Event()
        self.arrived = 0
        self.all_arrived = asyncio.Event()
        self.expected_arrivals = 0

    def attach(self, app: OrderedApplication) -> None:
        async def started(update: Update, _: object) -> None:
            chat = update.effective_chat
            assert chat is not None
            self.events.append(("start", chat.id, update.update_id))
            gate = self.held.get(update.update_id)
            if gate is not None:
                self.holding.set()
                await gate.wait()
            # Let every other task run: an overlap in one chat would show in the events.
            for _ in range(3):
                await asyncio.sleep(0)

        async def ended(update: Update, _: object) -> None:
            chat = update.effective_chat
            assert chat is not None
            self.events.append(("end", chat.id, update.update_id))

        # Only one handler runs per group: these groups must be outside every group the bot uses.
        app.add_handler(TypeHandler(Update, started), group=-10_000)
        app.add_handler(TypeHandler(Update, ended), group=10_000)

    def order(self, chat_id: int) -> list[int]:
        return [u for kind, chat, u in self.events if kind == "start" and chat == chat_id]

    def overlaps(self, chat_id: int) -> bool:
        running: set[int] = set()
        for kind, chat, update_id in self.events:
            if chat != chat_id:
                continue
            if kind == "start":
                if running:
                    return True
                running.add(update_id)
            else:
                running.discard(update_id)
        return False


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    """A Watch that also knows when the burst has reached the workers (the inbox)."""
    watching = Watch()
    real = conversation_store.arrive

    async def arrive(*args: Any, **kwargs: Any) -> None:
        await real(*args, **kwargs)
        watching.arrived += 1
        if watching.arrived >= watching.expected_arrivals:
            watching.all_arrived.set()

    monkeypatch.setattr(conversation_store, "arrive", arrive)
    return watching


@asynccontextmanager
async def _workers(
    fake: FakeTelegram, database_url: str, clock: FixedClock, count: int, watch: Watch
) -> AsyncIterator[list[BotHarness]]:
    async with AsyncExitStack() as stack:
        bots = [
            await stack.enter_async_context(BotHarness.start(fake, database_url, clock))
            for _ in range(count)
        ]
        for bot in bots:
            assert isinstance(bot.app, OrderedApplication)
            watch.attach(bot.app)
        yield bots


def _burst(fake: FakeTelegram, user: FakeUser, bots: list[BotHarness]) -> list[Update]:
    return [
        Update.de_json(fake.send_message(user, f"message {n}"), bots[0].app.bot)
        for n in range(BURST)
    ]


async def _push_shuffled_while_first_is_held(
    watch: Watch, bots: list[BotHarness], burst: list[Update], seed: int
) -> None:
    """The first update is being handled (held) while the rest arrive shuffled, spread over
    the workers; then the first finishes and the rest take their turns."""
    first, rest = burst[0], burst[1:]
    watch.held[first.update_id] = gate = asyncio.Event()
    watch.expected_arrivals = len(burst)
    shuffled = random.Random(seed).sample(rest, len(rest))
    pick: Callable[[int], BotHarness] = lambda i: bots[i % len(bots)]  # noqa: E731
    watch.holding.clear()
    tasks = [asyncio.create_task(bots[0].app.process_update(first))]
    await watch.holding.wait()
    tasks += [
        asyncio.create_task(pick(i + 1).app.process_update(update))
        for i, update in enumerate(shuffled)
    ]
    await watch.all_arrived.wait()
    gate.set()
    await asyncio.gather(*tasks)


async def _check_burst_in_order(
    fake: FakeTelegram, database_url: str, clock: FixedClock, watch: Watch, workers: int
) -> None:
    user = fake.new_user("Burst")
    async with _workers(fake, database_url, clock, workers, watch) as bots:
        for seed in (1, 2, 3):
            watch.events.clear()
            watch.arrived = 0
            watch.all_arrived.clear()
            burst = _burst(fake, user, bots)

            await _push_shuffled_while_first_is_held(watch, bots, burst, seed)

            assert watch.order(user.id) == [u.update_id for u in burst]
            assert not watch.overlaps(user.id)


@on_postgres
async def test_a_shuffled_burst_to_two_workers_is_handled_in_telegram_order(
    fake: FakeTelegram, database_url: str, clock: FixedClock, watch: Watch
) -> None:
    await _check_burst_in_order(fake, database_url, clock, watch, workers=2)


async def test_a_shuffled_burst_to_one_worker_is_handled_in_telegram_order(
    fake: FakeTelegram, database_url: str, clock: FixedClock, watch: Watch
) -> None:
    await _check_burst_in_order(fake, database_url, clock, watch, workers=1)


async def test_an_update_delivered_again_is_handled_once(
    fake: FakeTelegram, database_url: str, clock: FixedClock, watch: Watch
) -> None:
    user = fake.new_user("Again")
    workers = 2 if postgres_url() else 1
    async with _workers(fake, database_url, clock, workers, watch) as bots:
        update = Update.de_json(fake.send_message(user, "hello"), bots[0].app.bot)
        await bots[0].app.process_update(update)

        await bots[-1].app.process_update(update)

        assert watch.order(user.id) == [update.update_id]
        assert len(fake.messages(user.id)) == 1


async def test_another_chat_is_answered_while_one_chat_is_busy(
    fake: FakeTelegram, database_url: str, clock: FixedClock, watch: Watch
) -> None:
    busy, other = fake.new_user("Busy"), fake.new_user("Other")
    async with _workers(fake, database_url, clock, 1, watch) as [bot]:
        slow = Update.de_json(fake.send_message(busy, "hello"), bot.app.bot)
        watch.held[slow.update_id] = gate = asyncio.Event()
        held = asyncio.create_task(bot.app.process_update(slow))

        await bot.send(other, "hello")

        assert fake.messages(other.id) and not fake.messages(busy.id)
        gate.set()
        await held
        assert fake.messages(busy.id)
