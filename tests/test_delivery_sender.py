"""The bulk sender's lean path: every answer Telegram can give becomes one engine outcome."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.clock import FixedClock
from bot.delivery.sender import Answer, BulkSender, Outcome, classify
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.sandbox.fake_transport import FakeTransport
from tests.harness import settings_for_test

TEXT = "<b>Clinic closed</b> on Friday"


@pytest.fixture
async def sender(fake: FakeTelegram) -> AsyncIterator[BulkSender]:
    bulk = BulkSender(f"https://bot-api.invalid/bot{fake.token}", 4, transport=FakeTransport(fake))
    yield bulk
    await bulk.aclose()
    fake.assert_no_violations()


@pytest.fixture
def her(fake: FakeTelegram) -> FakeUser:
    return fake.new_user("Amira", started=True)


async def test_a_message_telegram_takes_is_sent_with_its_id(
    sender: BulkSender, fake: FakeTelegram, her: FakeUser
) -> None:
    answer = await sender.send(her.id, TEXT, None, paid=False)

    message = fake.last_message(her)
    assert answer == Answer(Outcome.SENT, message_id=message.message_id)
    assert message.plain_text == "Clinic closed on Friday"
    [call] = fake.calls_to("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert "allow_paid_broadcast" not in call.params


async def test_buttons_and_the_paid_flag_reach_telegram(
    sender: BulkSender, fake: FakeTelegram, her: FakeUser
) -> None:
    buttons = [[{"text": "Book a class", "url": "https://example.org/"}]]

    answer = await sender.send(her.id, TEXT, buttons, paid=True)

    assert answer.outcome is Outcome.SENT
    assert fake.last_message(her).button_texts() == ["Book a class"]
    assert fake.calls_to("sendMessage")[0].params["allow_paid_broadcast"] is True


async def test_prepared_json_follows_a_change_of_buttons_for_the_same_text(
    sender: BulkSender, fake: FakeTelegram
) -> None:
    first, second = fake.new_user("A", started=True), fake.new_user("B", started=True)
    await sender.send(
        first.id, TEXT, [[{"text": "One", "url": "https://example.org/1"}]], paid=False
    )
    await sender.send(
        second.id, TEXT, [[{"text": "Two", "url": "https://example.org/2"}]], paid=False
    )

    assert fake.last_message(first).button_texts() == ["One"]
    assert fake.last_message(second).button_texts() == ["Two"]


async def test_a_429_pauses_for_telegrams_retry_after(
    sender: BulkSender, fake: FakeTelegram, her: FakeUser
) -> None:
    fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7
    )

    answer = await sender.send(her.id, TEXT, None, paid=False)

    assert (answer.outcome, answer.retry_after) == (Outcome.FLOOD, 7.0)
    assert fake.messages(her.id) == []


async def test_a_resident_who_blocked_the_bot_is_unreachable(
    sender: BulkSender, fake: FakeTelegram, her: FakeUser
) -> None:
    fake.block_bot(her)

    answer = await sender.send(her.id, TEXT, None, paid=False)

    assert answer.outcome is Outcome.UNREACHABLE
    assert answer.error.startswith("403 ")
    assert "blocked by the user" in answer.error


@pytest.mark.parametrize(
    "description",
    [
        "Bad Request: chat not found",
        "Bad Request: user not found",
        "Bad Request: PEER_ID_INVALID",
        "Bad Request: user is deactivated",
    ],
)
async def test_a_400_saying_the_chat_is_gone_is_unreachable(
    sender: BulkSender, fake: FakeTelegram, her: FakeUser, description: str
) -> None:
    fake.fail_next("sendMessage", error_code=400, description=description)

    answer = await sender.send(her.id, TEXT, None, paid=False)

    assert answer == Answer(Outcome.UNREACHABLE, error=f"400 {description}")


async def test_a_chat_telegram_never_heard_of_is_unreachable(sender: BulkSender) -> None:
    answer = await sender.send(99_999_999, TEXT, None, paid=False)

    assert answer.outcome is Outcome.UNREACHABLE
    assert "chat not found" in answer.error


async def test_a_message_telegram_cannot_parse_fails_without_retrying(
    sender: BulkSender, fake: FakeTelegram, her: FakeUser
) -> None:
    answer = await sender.send(her.id, "<b>unclosed", None, paid=False)

    assert answer.outcome is Outcome.FAILED
    assert answer.error.startswith("400 Bad Request: can't parse entities")
    # The fake rightly flags the malformed HTML as a contract violation: it is this test's point.
    fake.violations.clear()


@pytest.mark.parametrize(
    ("code", "description"),
    [(500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable")],
)
async def test_server_errors_are_retried(
    sender: BulkSender, fake: FakeTelegram, her: FakeUser, code: int, description: str
) -> None:
    fake.fail_next("sendMessage", error_code=code, description=description)

    answer = await sender.send(her.id, TEXT, None, paid=False)

    assert answer == Answer(Outcome.RETRY, error=f"{code} {description}")


async def test_a_timeout_is_retried(sender: BulkSender, fake: FakeTelegram, her: FakeUser) -> None:
    fake.time_out_next("sendMessage")

    answer = await sender.send(her.id, TEXT, None, paid=False)

    assert answer == Answer(Outcome.RETRY, error="timed out (ReadTimeout)")


async def test_a_wrong_token_fails_rather_than_hammering_telegram(fake: FakeTelegram) -> None:
    user = fake.new_user("Amira", started=True)
    wrong = BulkSender(
        "https://bot-api.invalid/bot1:not-the-token", 1, transport=FakeTransport(fake)
    )

    answer = await wrong.send(user.id, TEXT, None, paid=False)

    assert answer == Answer(Outcome.FAILED, error="401 Unauthorized")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError, "network error (ConnectError)"),
        (httpx.RemoteProtocolError, "network error (RemoteProtocolError)"),
        (httpx.DecodingError, "network error (DecodingError)"),
        (httpx.WriteTimeout, "timed out (WriteTimeout)"),
    ],
)
async def test_network_trouble_is_retried_and_nothing_logs_the_token(
    caplog: pytest.LogCaptureFixture, error: type[httpx.RequestError], expected: str
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise error("the connection went wrong", request=request)

    token = "123:secret-token"
    bulk = BulkSender(
        f"https://bot-api.invalid/bot{token}", 1, transport=httpx.MockTransport(refuse)
    )
    caplog.set_level(logging.DEBUG)

    answer = await bulk.send(7, TEXT, None, paid=False)

    assert answer == Answer(Outcome.RETRY, error=expected)
    assert token not in caplog.text


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # A 429 without retry_after is Telegram's trouble, not a pause it asked for.
        (429, b'{"ok":false,"error_code":429,"description":"Too Many Requests"}', Outcome.RETRY),
        # A proxy's HTML error page in front of Telegram.
        (502, b"<html>Bad Gateway</html>", Outcome.RETRY),
        (403, b"<html>Forbidden</html>", Outcome.UNREACHABLE),
        # Telegram said yes but the answer is unreadable: it probably went, so not again.
        (200, b"<html>", Outcome.FAILED),
        (200, b'{"ok":false}', Outcome.FAILED),
        (409, b'{"ok":false,"error_code":409,"description":"Conflict"}', Outcome.FAILED),
    ],
)
def test_answers_from_outside_the_schema_still_get_a_safe_outcome(
    status: int, body: bytes, expected: Outcome
) -> None:
    assert classify(status, body).outcome is expected


def test_a_test_application_with_a_fake_request_but_real_bulk_sends_is_refused(
    fake: FakeTelegram, clock: FixedClock
) -> None:
    from bot.app import build_application
    from bot.sandbox.fake_request import FakeRequest

    with pytest.raises(ValueError, match="delivery_transport"):
        build_application(
            settings_for_test(fake.token, "sqlite+aiosqlite://"),
            clock=clock,
            request=FakeRequest(fake),
        )
