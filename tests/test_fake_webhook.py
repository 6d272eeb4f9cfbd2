"""The fake Bot API pushes updates to a webhook the way Telegram does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from bot.sandbox.fake_api import (
    WEBHOOK_FIRST_RETRY,
    WEBHOOK_MAX_RETRY,
    FakeTelegram,
    WebhookAttempt,
)
from tests.harness import schema_checked


class Webhook:
    """A pretend bot behind a webhook: records what Telegram pushed, answers as told."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[int] = []
        self.gaps: list[float] = []
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.answers.pop(0) if self.answers else 503 if self.down else 200
        if status == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status)

    async def sleep(self, seconds: float) -> None:
        # The fake's retry gap passes instantly: recorded, not waited (other tasks still run).
        self.gaps.append(seconds)
        await asyncio.sleep(0)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def webhook() -> Webhook:
    return Webhook()


@pytest.fixture
async def fake(webhook: Webhook) -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(
        webhook_transport=httpx.MockTransport(webhook.handle),
        webhook_sleep=webhook.sleep,
        allow_http_loopback_webhook=True,
    )
    for checked in schema_checked(fake):
        yield checked
        await checked.aclose()


async def call_ok(fake: FakeTelegram, method: str, **params: Any) -> Any:
    response = await fake.call(method, params)
    assert response["ok"], response
    return response["result"]


async def until(fake: FakeTelegram, predicate: Callable[[], bool]) -> None:
    await fake.wait_for(predicate, timeout=5)


async def test_each_update_is_posted_as_json_with_the_secret_token(
    fake: FakeTelegram, webhook: Webhook
) -> None:
    user = fake.new_user("Ann")
    await call_ok(fake, "setWebhook", url="https://bot.example.org/telegram", secret_token="s3cr3t")

    update = fake.send_message(user, "hello")

    await until(fake, lambda: len(webhook.requests) == 1)
    request = webhook.requests[0]
    assert str(request.url) == "https://bot.example.org/telegram"
    assert request.method == "POST"
    assert request.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t"
    assert request.headers["Content-Type"] == "application/json"
    assert webhook.bodies() == [update]
    await until(fake, lambda: not fake.pending_updates)


async def test_updates_queued_before_the_webhook_is_set_are_pushed_once_it_is(
    fake: FakeTelegram, webhook: Webhook
) -> None:
    user = fake.new_user("Ann")
    first = fake.send_message(user, "one")
    second = fake.send_message(user, "two")

    await call_ok(fake, "setWebhook", url="https://bot.example.org/hook")

    await until(fake, lambda: len(webhook.requests) == 2)
    assert sorted(b["update_id"] for b in webhook.bodies()) == [
        first["update_id"],
        second["update_id"],
    ]


async def test_an_update_without_a_2xx_answer_is_retried_with_growing_gaps(
    fake: FakeTelegram, webhook: Webhook
) -> None:
    user = fake.new_user("Ann")
    webhook.answers = [404, 500, 0, 502]
    await call_ok(fake, "setWebhook", url="https://bot.example.org/hook")

    update = fake.send_message(user, "hello")

    await until(fake, lambda: len(webhook.requests) == 5)
    await until(fake, lambda: not fake.pending_updates)
    assert fake.webhook_attempts == [
        WebhookAttempt(update["update_id"], status) for status in (404, 500, None, 502, 200)
    ]
    assert webhook.gaps == [WEBHOOK_FIRST_RETRY * 2**n for n in range(4)]
    assert all(gap <= WEBHOOK_MAX_RETRY for gap in webhook.gaps)


async def test_webhook_info_reports_pending_updates_and_the_last_error(
    fake: FakeTelegram, webhook: Webhook
) -> None:
    user = fake.new_user("Ann")
    # The bot is down: nothing answers, and the update waits.
    webhook.down = True
    await call_ok(fake, "setWebhook", url="https://bot.example.org/hook")
    fake.send_message(user, "hello")
    await until(fake, lambda: len(webhook.requests) >= 2)

    info = await call_ok(fake, "getWebhookInfo")

    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Wrong response from the webhook: 503 Service Unavailable"
    assert isinstance(info["last_error_date"], int)


async def test_deleting_the_webhook_stops_the_pushes_and_keeps_the_update(
    fake: FakeTelegram, webhook: Webhook
) -> None:
    user = fake.new_user("Ann")
    webhook.down = True
    await call_ok(fake, "setWebhook", url="https://bot.example.org/hook")
    update = fake.send_message(user, "hello")
    await until(fake, lambda: len(webhook.requests) >= 1)

    await call_ok(fake, "deleteWebhook")
    await fake.aclose()

    assert [u["update_id"] for u in await call_ok(fake, "getUpdates")] == [update["update_id"]]


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("http://127.0.0.1:8443/telegram", True),
        ("http://localhost/telegram", True),
        ("http://bot.example.org/telegram", False),
        ("ftp://127.0.0.1/telegram", False),
    ],
)
async def test_plain_http_is_a_fake_only_allowance_for_loopback(
    fake: FakeTelegram, url: str, accepted: bool
) -> None:
    response = await fake.call("setWebhook", {"url": url})

    assert response["ok"] is accepted
    if not accepted:
        assert "HTTPS URL must be provided" in response["description"]


async def test_without_the_allowance_plain_http_is_refused_even_on_loopback() -> None:
    fake = FakeTelegram()

    response = await fake.call("setWebhook", {"url": "http://127.0.0.1:8443/telegram"})

    assert response["ok"] is False
    assert "HTTPS URL must be provided" in response["description"]
