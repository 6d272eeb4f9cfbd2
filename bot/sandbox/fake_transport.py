"""An httpx transport that hands every request straight to a FakeTelegram, in-process.

The bulk sender (bot/delivery/sender.py) talks httpx, not PTB; with this transport tests drive it
against the schema-checking fake without a socket, as FakeRequest does for PTB.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .fake_api import FakeTelegram, SimulatedTimeout
from .fake_request import answer

__all__ = ["FakeTransport"]


class FakeTransport(httpx.AsyncBaseTransport):
    """Answers JSON Bot API requests (what the bulk sender posts) as the HTTP fake would."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One request in, Telegram's status and envelope out; a simulated timeout raises."""
        content = await request.aread()
        params: dict[str, Any] = dict(request.url.params)
        content_type = request.headers.get("Content-Type", "")
        try:
            if content_type.startswith("application/json") and content.strip():
                body = json.loads(content)
                if not isinstance(body, dict):
                    raise ValueError("JSON body must be an object")
                params.update(body)
        except ValueError as exc:
            envelope = {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
            return httpx.Response(400, json=envelope, request=request)
        try:
            status, answered = await answer(self.fake, str(request.url), params, {})
        except SimulatedTimeout:
            # What httpx raises when Telegram does not answer in time.
            raise httpx.ReadTimeout("the fake Bot API did not answer", request=request) from None
        return httpx.Response(
            status,
            content=answered,
            headers={"Content-Type": "application/json"},
            request=request,
        )
