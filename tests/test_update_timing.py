"""Where an update's time goes: the webhook's Server-Timing header and the metrics' parts."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text

from bot.db import create_engine
from bot.sandbox.fake_api import FakeTelegram
from bot.update_timing import PARTS, part, timing_update
from bot.web import SECRET_HEADER
from tests.conftest import WEBHOOK_SECRET


def durations(header: str) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r"(\w+);dur=([0-9.]+)", header)}


async def test_the_webhooks_answer_says_where_the_updates_time_went(
    webhook: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    user = fake.new_user("Ann")

    response = await webhook.post(
        "/telegram/updates",
        json=fake.send_message(user, "/start"),
        headers={SECRET_HEADER: WEBHOOK_SECRET},
    )

    assert response.status_code == 200
    spent = durations(response.headers["Server-Timing"])
    assert list(spent) == [*PARTS, "total"]
    # Her welcome and consent question came from the database and went to Telegram.
    assert spent["db"] > 0 and spent["telegram"] > 0 and spent["turn"] > 0
    assert sum(spent[name] for name in PARTS) == pytest.approx(spent["total"], abs=0.5)


async def test_metrics_add_up_every_updates_time_by_part(
    webhook: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    user = fake.new_user("Ann")
    await webhook.post(
        "/telegram/updates",
        json=fake.send_message(user, "/start"),
        headers={SECRET_HEADER: WEBHOOK_SECRET},
    )

    body = (await webhook.get("/metrics")).text

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
