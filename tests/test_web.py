"""The ASGI app of `bumpbuddies serve`: the webhook on its path, probes and metrics."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from telegram import Update
from telegram.ext import TypeHandler

from bot.app import CONCURRENT_UPDATES
from bot.clock import FixedClock
from bot.db import create_engine, database_unavailable
from bot.sandbox.fake_api import FakeTelegram
from bot.services.conversations import store as conversation_store
from bot.web import SECRET_HEADER, create_app, latest_revision
from models import StaffRole
from tests.conftest import WEBHOOK_SECRET as SECRET
from tests.conftest import WEBHOOK_URL as URL
from tests.content_support import Sessions, load_sample
from tests.harness import BotHarness


@pytest.fixture
def harness(webhook_bot: BotHarness) -> BotHarness:
    return webhook_bot


@pytest.fixture
def client(webhook: httpx.AsyncClient) -> httpx.AsyncClient:
    return webhook


async def push(client: httpx.AsyncClient, update: dict[str, Any], secret: str = SECRET) -> int:
    response = await client.post(
        "/telegram/updates", json=update, headers={SECRET_HEADER: secret} if secret else {}
    )
    return response.status_code


async def test_an_update_pushed_to_the_urls_path_is_handled_before_it_is_answered(
    client: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    user = fake.new_user("Ann")

    status = await push(client, fake.send_message(user, "/start"))

    assert status == 200
    assert "Are you happy for us to keep these details?" in fake.messages(user.id)[-1].plain_text


@pytest.mark.parametrize("secret", ["", "not-the-secret"])
async def test_an_update_without_the_secret_token_is_refused_and_not_handled(
    client: httpx.AsyncClient, fake: FakeTelegram, secret: str
) -> None:
    user = fake.new_user("Ann")

    status = await push(client, fake.send_message(user, "/start"), secret=secret)

    assert status == 403
    assert fake.messages(user.id) == []


async def test_a_body_that_is_not_an_update_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/telegram/updates", content=b"not json", headers={SECRET_HEADER: SECRET}
    )

    assert response.status_code == 400


async def test_healthz_answers_while_the_process_is_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert (response.status_code, response.text) == (200, "ok")


async def test_readyz_wants_content_loaded(
    client: httpx.AsyncClient, sessions: Sessions, clock: FixedClock
) -> None:
    before = await client.get("/readyz")
    await load_sample(sessions, clock.now())
    after = await client.get("/readyz")

    assert before.status_code == 503
    assert "bumpbuddies content load" in before.text
    assert (after.status_code, after.text) == (200, "ready")


async def test_readyz_wants_the_schema_at_the_latest_migration(
    client: httpx.AsyncClient,
    sessions: Sessions,
    clock: FixedClock,
    owner_database_url: str,
    database_url: str,
) -> None:
    await load_sample(sessions, clock.now())
    owner = create_engine(owner_database_url)
    try:
        async with owner.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        behind = await client.get("/readyz")
        async with owner.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :head"),
                {"head": latest_revision(database_url)},
            )
    finally:
        await owner.dispose()

    assert behind.status_code == 503
    assert "bumpbuddies db upgrade" in behind.text


async def test_metrics_count_updates_by_type_and_time_their_handling(
    client: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    user = fake.new_user("Ann")
    await push(client, fake.send_message(user, "/start"))

    response = await client.get("/metrics")

    assert response.status_code == 200
    body = response.text
    assert 'bumpbuddies_updates_total{type="message"}' in body
    assert "bumpbuddies_update_handling_seconds_bucket" in body
    assert "bumpbuddies_delivery_queue_depth 0.0" in body
    assert "bumpbuddies_leading 1.0" in body
    # Kinds and outcomes only: nothing in the metrics can say who wrote.
    assert str(user.id) not in body and "Ann" not in body


async def test_updates_pushed_at_once_from_many_chats_are_handled_a_few_at_a_time(
    client: httpx.AsyncClient, fake: FakeTelegram, harness: BotHarness
) -> None:
    # Each update being handled holds up to two database connections: unbounded, a burst of
    # chats took the whole pool for their turns and the handlers waited for its timeout.
    application = harness.app
    handle = application.process_update
    busy = peak = 0

    async def counted(update: object) -> None:
        nonlocal busy, peak
        busy += 1
        peak = max(peak, busy)
        try:
            await handle(update)
        finally:
            busy -= 1

    application.process_update = counted  # type: ignore[method-assign]
    users = [fake.new_user(f"Resident{n}") for n in range(3 * CONCURRENT_UPDATES)]

    statuses = await asyncio.gather(
        *(push(client, fake.send_message(user, "/start")) for user in users)
    )

    assert statuses == [200] * len(users)
    assert 1 < peak <= CONCURRENT_UPDATES
    for user in users:
        assert (
            "Are you happy for us to keep these details?" in fake.messages(user.id)[-1].plain_text
        )


def unreachable(statement: str) -> OperationalError:
    """What the driver raises when the database has gone away mid-update."""
    return OperationalError(statement, None, ConnectionRefusedError("connection refused"))


class _ShuttingDown(Exception):
    """The driver's error as SQLAlchemy wraps it, when PostgreSQL refuses new connections."""

    sqlstate = "57P03"


# How "the database is gone" looks, by who meets it: SQLAlchemy mid-statement; SQLAlchemy
# connecting while PostgreSQL shuts down or starts (not an invalidated connection: there was
# none yet); and the send limits' own asyncpg connection, connecting or already closed.
GONE = {
    "statement": unreachable("SELECT residents"),
    "connect while shutting down": DBAPIError.instance(
        None, None, _ShuttingDown("the database system is shutting down"), Exception
    ),
    "asyncpg: cannot connect now": asyncpg.exceptions.CannotConnectNowError(
        "the database system is shutting down"
    ),
    "asyncpg: connection closed": asyncpg.InterfaceError("connection is closed"),
    "too many connections": asyncpg.exceptions.TooManyConnectionsError("too many clients"),
}


def _caused_by(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "bug",
    [
        asyncpg.exceptions.DataError("invalid input for query argument $1"),
        ValueError("a bug of ours"),
        # A timeout somewhere below a bug of ours is still the bug, not the database.
        _caused_by(RuntimeError("a bug of ours"), TimeoutError()),
    ],
    ids=["bad query argument", "bug", "bug caused by a timeout"],
)
def test_a_bad_query_argument_or_a_bug_is_not_the_database_being_away(bug: Exception) -> None:
    # These would fail the same way on every push: apologised for, never pushed again.
    assert not database_unavailable(bug)


@pytest.mark.parametrize("gone", GONE.values(), ids=GONE.keys())
async def test_a_handler_that_finds_the_database_gone_gets_a_503_and_no_apology(
    client: httpx.AsyncClient, fake: FakeTelegram, harness: BotHarness, gone: Exception
) -> None:
    user = fake.new_user("Ann")
    failing = [True]

    async def database_goes_away(update: Update, context: object) -> None:
        if failing.pop() if failing else False:
            raise gone

    harness.app.add_handler(TypeHandler(Update, database_goes_away), group=-50)
    update = fake.send_message(user, "/start")

    first = await push(client, update)
    nothing_sent = fake.messages(user.id)
    # Telegram pushes it again, once the database is back.
    again = await push(client, update)

    assert first == 503
    assert nothing_sent == []
    assert again == 200
    texts = [m.plain_text for m in fake.messages(user.id)]
    assert sum("Are you happy for us to keep these details?" in t for t in texts) == 1
    assert not any("went wrong" in t.lower() for t in texts)


async def test_an_update_that_cannot_even_be_noted_gets_a_503(
    client: httpx.AsyncClient, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = fake.new_user("Ann")

    async def arrive(*args: object, **kwargs: object) -> None:
        raise unreachable("INSERT INTO update_inbox")

    monkeypatch.setattr(conversation_store, "arrive", arrive)

    assert await push(client, fake.send_message(user, "/start")) == 503
    assert fake.messages(user.id) == []


async def test_a_bug_is_still_apologised_for_and_answered_200(
    client: httpx.AsyncClient, fake: FakeTelegram, harness: BotHarness
) -> None:
    user = fake.new_user("Ann")

    async def bug(update: Update, context: object) -> None:
        raise ValueError("a bug, not the database")

    harness.app.add_handler(TypeHandler(Update, bug), group=-50)

    assert await push(client, fake.send_message(user, "/start")) == 200
    assert any("went wrong" in m.plain_text for m in fake.messages(user.id))


async def test_the_console_is_served_inside_the_workers_app_at_console_mount(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    from tests.console_support import csrf_of, staff_member

    async with BotHarness.start(
        fake,
        database_url,
        clock,
        webhook_secret_token=SECRET,
        webhook_url=URL,
        console_mount="/console",
        console_public_url="https://staff.example.org/console",
    ) as harness:
        settings = harness.app.bot_data.settings
        assert settings is not None
        transport = httpx.ASGITransport(app=create_app(harness.app, settings))
        admin = await staff_member(harness, fake, StaffRole.ADMIN)
        reply = (await harness.send(admin, "/console"))[-1].text or ""
        link = re.search(r"https://staff\.example\.org(/console/signin/link/[\w-]+)", reply)
        assert link, reply
        async with httpx.AsyncClient(
            transport=transport, base_url="https://staff.example.org"
        ) as client:
            page = await client.get(link.group(1))
            signed = await client.post(link.group(1), data={"csrf_token": csrf_of(page)})
            assert signed.headers["location"] == "/console/"
            overview = await client.get("/console/")
    assert overview.status_code == 200 and "Signed in as admin" in overview.text
