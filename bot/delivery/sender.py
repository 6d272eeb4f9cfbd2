"""The lean path for bulk sends: prepared JSON over a few keep-alive connections.

python-telegram-bot builds every request through several layers and parses every answer into a
`Message`; at paid-broadcast rates that was most of the bot's CPU (docs/PERFORMANCE.md). The engine
needs none of it: only whether Telegram took the message, its id (kept for later edits) and, if
not, what to do next. `classify` makes that decision for every answer, in one place.

Each connection is lent to one send at a time. Over the network, a connection is a `JsonPoster`
(bot/delivery/http.py): the request head is prepared once, and an answer is read with a few byte
searches instead of httpx's, httpcore's, h11's and anyio's layers. An injected httpx transport
(tests: the fake Bot API in process) is used as it is. Nothing is logged, so the token in the URL
path never reaches a log.
"""

from __future__ import annotations

import asyncio
import enum
import json
from dataclasses import dataclass
from typing import Any

import httpx

from bot.delivery.http import JsonPoster, Timeouts

# Telegram's 400s that mean the chat itself is gone, rather than the message being wrong.
_UNREACHABLE_400 = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated")
_HEADERS = httpx.Headers({"Content-Type": "application/json", "Accept": "application/json"})
# PTB's defaults for the bulk Bot this replaces: a slow answer is a timeout, retried with backoff.
_TIMEOUTS = {"connect": 5.0, "read": 10.0, "write": 5.0, "pool": 5.0}
_POSTER_TIMEOUTS = Timeouts(connect=_TIMEOUTS["connect"], read=_TIMEOUTS["read"])
_PREPARED_TEXTS = 16


class Outcome(enum.Enum):
    """What the engine does with one answer."""

    # Telegram took the message; its id is kept.
    SENT = "sent"
    # 429: every send pauses for retry_after; the row goes back, no attempt counted against it.
    FLOOD = "flood"
    # She blocked the bot or the chat is gone: she is marked unreachable, her other rows skipped.
    UNREACHABLE = "unreachable"
    # 5xx, timeouts, connection trouble: it may or may not have gone; retried with growing waits.
    RETRY = "retry"
    # Telegram refused the message itself (malformed, bad token): retrying would not help.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Answer:
    """One send's outcome, with what the engine keeps of it."""

    outcome: Outcome
    message_id: int | None = None
    retry_after: float = 0.0
    error: str = ""


def classify(status: int, body: bytes) -> Answer:
    """Telegram's answer to sendMessage, as the engine acts on it.

    Mirrors python-telegram-bot's reading of an answer (the HTTP status decides; a retry_after
    anywhere is a flood pause), so bulk sends and PTB's replies treat Telegram alike.
    """
    try:
        envelope: Any = json.loads(body)
    except ValueError:
        envelope = None
    if 200 <= status <= 299:
        if isinstance(envelope, dict) and envelope.get("ok"):
            result = envelope.get("result")
            message_id = result.get("message_id") if isinstance(result, dict) else None
            return Answer(Outcome.SENT, message_id if isinstance(message_id, int) else None)
        # Telegram said yes but the answer can't be read: the message probably went, so it is
        # not sent again; it is recorded as failed, with why.
        return Answer(Outcome.FAILED, error=f"{status} unreadable answer")
    if not isinstance(envelope, dict):
        envelope = {}
    description = str(envelope.get("description") or f"HTTP {status}")
    error = f"{status} {description}"
    parameters = envelope.get("parameters")
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(retry_after, int | float) and retry_after > 0:
        return Answer(Outcome.FLOOD, retry_after=float(retry_after), error=error)
    if status == 403:
        return Answer(Outcome.UNREACHABLE, error=error)
    if status == 400:
        gone = any(marker in description.lower() for marker in _UNREACHABLE_400)
        return Answer(Outcome.UNREACHABLE if gone else Outcome.FAILED, error=error)
    if status in (401, 404, 409) or not 300 <= status <= 599:
        return Answer(Outcome.FAILED, error=error)
    # 5xx, and a 429 without retry_after: Telegram's trouble, worth trying again.
    return Answer(Outcome.RETRY, error=error)


def _transport_error(exc: httpx.HTTPError) -> Answer:
    # Only the type: an exception's text could one day carry the URL, and with it the token.
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
    return Answer(Outcome.RETRY, error=f"{kind} ({type(exc).__name__})")


class BulkSender:
    """Sends bulk messages to the Bot API at `base_url` (PTB's `Bot.base_url`: token included).

    `transport` replaces the network with one shared transport (tests: the fake Bot API);
    otherwise `connections` keep-alive connections are opened as needed.
    """

    def __init__(
        self,
        base_url: str,
        connections: int,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = httpx.URL(f"{base_url}/sendMessage")
        self._transport = transport
        self._posters: list[JsonPoster] = []
        if transport is None:
            # One TLS context for all: each costs tens of milliseconds to load certificates.
            tls = httpx.create_ssl_context() if self._url.scheme == "https" else None
            self._posters = [
                JsonPoster(str(self._url), tls=tls, timeouts=_POSTER_TIMEOUTS)
                for _ in range(max(1, connections))
            ]
        self._idle: asyncio.Queue[JsonPoster] | None = None
        self._prepared: dict[tuple[str, bool], tuple[Any, bytes]] = {}

    @property
    def connections(self) -> int:
        """How many connections sends share (1 for an injected transport)."""
        return len(self._posters) or 1

    def _idle_posters(self) -> asyncio.Queue[JsonPoster]:
        # Made on first use, inside the event loop that sends.
        if self._idle is None:
            self._idle = asyncio.Queue()
            for poster in self._posters:
                self._idle.put_nowait(poster)
        return self._idle

    def body(self, chat_id: int, text: str, buttons: Any, *, paid: bool) -> bytes:
        """The JSON for one sendMessage; what follows chat_id is prepared once per message."""
        key = (text, paid)
        cached = self._prepared.get(key)
        if cached is None or cached[0] != buttons:
            fields: dict[str, Any] = {"text": text, "parse_mode": "HTML"}
            if buttons:
                fields["reply_markup"] = {"inline_keyboard": buttons}
            if paid:
                fields["allow_paid_broadcast"] = True
            rest = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))[1:]
            cached = (buttons, rest.encode("utf-8"))
            if len(self._prepared) >= _PREPARED_TEXTS:
                self._prepared.clear()
            self._prepared[key] = cached
        return b'{"chat_id":%d,%s' % (chat_id, cached[1])

    async def send(self, chat_id: int, text: str, buttons: Any, *, paid: bool) -> Answer:
        """Send one HTML message; never raises for anything Telegram or the network does."""
        body = self.body(chat_id, text, buttons, paid=paid)
        if self._transport is not None:
            return await self._exchange(self._transport, body)
        idle = self._idle_posters()
        poster = idle.get_nowait() if idle.qsize() else await idle.get()
        try:
            status, answer = await poster.post(body)
        except httpx.HTTPError as exc:
            return _transport_error(exc)
        finally:
            idle.put_nowait(poster)
        return classify(status, answer)

    async def _exchange(self, transport: httpx.AsyncBaseTransport, body: bytes) -> Answer:
        request = httpx.Request(
            "POST", self._url, headers=_HEADERS, content=body, extensions={"timeout": _TIMEOUTS}
        )
        try:
            response = await transport.handle_async_request(request)
            try:
                answer = await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            # Connection trouble, timeouts, and an answer that could not be decoded alike.
            return _transport_error(exc)
        return classify(response.status_code, answer)

    async def aclose(self) -> None:
        """Close every connection."""
        for poster in self._posters:
            await poster.aclose()
        if self._transport is not None:
            await self._transport.aclose()
