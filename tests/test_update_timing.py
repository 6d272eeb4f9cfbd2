"""Where an update's time goes: the webhook's Server-Timing header and the metrics' parts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from bot.clock import FixedClock
from bot.db import create_engine
from bot.sandbox.fake_api import FakeTelegram
from bot.update_timing import PARTS, part, timing_update
from bot.web import SECRET_HEADER, create_app
from tests.harness import BotHarness

SECRET = "a-webhook-secret"
URL = "https://bot.example.org/telegram/updates"


@pytest.fixture
async def client(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with BotHarness.start(
        fake, database_url, clock, webhook_secret_token=SECRET, webhook_url=URL
    ) as running:
        settings = running.app.bot_data.settings
        assert settings is not None
        transport = httpx.ASGITransport(app=create_app(running.app, settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            yield client


def durations(header: str) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r"(\w+);dur=([0-9.]+)", header)}


async def test_the_webhooks_answer_says_where_the_updates_time_went(
    client: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    user = fake.new_user("Ann")

    response = await client.post(
        "/telegram/updates",
        json=fake.send_message(user, "/start"),
        headers={SECRET_HEADER: SECRET},
    )

    assert response.status_code == 200
    spent = durations(response.headers["Server-Timing"])
    assert list(spent) == [*PARTS, "total"]
    # Her welcome and consent question came from the database and went to Telegram.
    assert spent["db"] > 0 and spent["telegram"] > 0 and spent["turn"] > 0
    assert sum(spent[name] for name in PARTS) == pytest.approx(spent["total"], abs=0.5)


async def test_metrics_add_up_every_updates_time_by_part(
    client: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    user = fake.new_user("Ann")
    await client.post(
        "/telegram/updates",
        json=fake.send_message(user, "/start"),
        headers={SECRET_HEADER: SECRET},
    )

    body = (await client.get("/metrics")).text

    for name in PARTS:
        assert f'bumpbuddies_update_part_seconds_total{{part="{name}"}}' in body


async def test_a_statement_counts_for_the_update_that_runs_it_and_in_one_part_only(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        # Outside any update (a background job) nothing is counted, and nothing breaks.
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        with timing_update() as plain:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        with timing_update() as nested, part("slot"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()

    assert plain.parts["db"] > 0
    assert nested.parts["db"] == 0 and nested.parts["slot"] > 0
