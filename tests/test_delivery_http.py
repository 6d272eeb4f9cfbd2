"""The bulk sender's own HTTP/1.1 connection, against the fake Bot API served on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from bot.delivery.http import JsonPoster, Timeouts
from bot.delivery.sender import Answer, BulkSender, Outcome
from bot.sandbox.fake_api import FakeTelegram
from bot.sandbox.fake_http import FakeTelegramServer

TEXT = "<b>Clinic closed</b> on Friday &amp; Saturday"


@pytest.fixture
async def server(fake: FakeTelegram) -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(fake) as running:
        yield running
    fake.assert_no_violations()


async def test_bulk_sends_over_a_real_connection_reach_telegram_with_their_ids(
    fake: FakeTelegram, server: FakeTelegramServer
) -> None:
    users = [fake.new_user(f"Mum {n}", started=True) for n in range(20)]
    bulk = BulkSender(f"{server.base_url}{fake.token}", 4)
    try:
        answers = await asyncio.gather(
            *(bulk.send(user.id, TEXT, None, paid=True) for user in users)
        )
    finally:
        await bulk.aclose()

    for user, answer in zip(users, answers, strict=True):
        assert answer == Answer(Outcome.SENT, message_id=fake.last_message(user).message_id)
        assert fake.last_message(user).plain_text == "Clinic closed on Friday & Saturday"


async def test_telegrams_refusals_are_read_from_the_answer(
    fake: FakeTelegram, server: FakeTelegramServer
) -> None:
    her = fake.new_user("Amira", started=True)
    fake.block_bot(her)
    bulk = BulkSender(f"{server.base_url}{fake.token}", 1)
    wrong = BulkSender(f"{server.base_url}1:wrong", 1)
    try:
        blocked = await bulk.send(her.id, TEXT, None, paid=False)
        wrong_token = await wrong.send(her.id, TEXT, None, paid=False)
    finally:
        await bulk.aclose()
        await wrong.aclose()

    assert blocked.outcome is Outcome.UNREACHABLE
    assert wrong_token == Answer(Outcome.FAILED, error="401 Unauthorized")


Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _raw_server(serve: Serve) -> tuple[asyncio.Server, str]:
    """A loopback server that answers with whatever bytes `serve` writes."""

    async def serve_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/bot1:token/sendMessage"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


async def test_one_connection_carries_many_requests() -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}')
            await writer.drain()

    server, url = await _raw_server(serve)
    poster = JsonPoster(url)
    try:
        answers = [await poster.post(b"{}") for _ in range(5)]
    finally:
        await poster.aclose()
        server.close()
        await server.wait_closed()

    assert answers == [(200, b'{"ok":true}')] * 5
    assert connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'7\r\n{"ok":t\r\n1c\r\nrue,"result":{"message_id":9\r\n2\r\n}}\r\n0\r\n\r\n',
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 38\r\n\r\n"
        b'{"ok":true,"result":{"message_id":9}}\n',
        b'HTTP/1.0 200 OK\r\n\r\n{"ok":true,"result":{"message_id":9}}',
    ],
    ids=["chunked", "interim answer first", "ended by closing"],
)
async def test_answers_framed_every_way_http_allows_are_read_whole(answer: bytes) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        if answer.startswith(b"HTTP/1.0"):
            writer.close()

    server, url = await _raw_server(serve)
    poster = JsonPoster(url)
    try:
        status, body = await poster.post(b"{}")
    finally:
        await poster.aclose()
        server.close()
        await server.wait_closed()

    assert status == 200
    assert json.loads(body) == {"ok": True, "result": {"message_id": 9}}


async def test_a_server_that_hangs_up_or_stalls_is_trouble_and_the_next_post_reconnects() -> None:
    requests = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            requests += 1
            if requests == 1:
                writer.close()  # hangs up without an answer
                return
            if requests == 2:
                continue  # never answers
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 37\r\n\r\n")
            writer.write(b'{"ok":true,"result":{"message_id":3}}')
            await writer.drain()

    server, url = await _raw_server(serve)
    # No time at all to answer: the stalled request times out on the loop's next turn.
    poster = JsonPoster(url, timeouts=Timeouts(connect=5.0, read=0.0))
    patient = JsonPoster(url)
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            await patient.post(b"{}")
        with pytest.raises(httpx.ReadTimeout):
            await poster.post(b"{}")
        status, _ = await patient.post(b"{}")
    finally:
        await poster.aclose()
        await patient.aclose()
        server.close()
        await server.wait_closed()

    assert status == 200
    assert requests == 3


async def test_nothing_listening_is_a_retry_without_the_token_in_the_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    bulk = BulkSender(f"http://127.0.0.1:{port}/bot123:secret", 1)

    answer = await bulk.send(7, TEXT, None, paid=False)

    assert answer == Answer(Outcome.RETRY, error="network error (ConnectError)")
