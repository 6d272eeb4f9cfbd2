"""A PTB request backend that hands every Bot API call straight to a FakeTelegram."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

# PTB's own annotation for timeouts; BaseRequest.do_request is typed with it.
from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from .fake_api import FakeTelegram, SimulatedTimeout

__all__ = ["FakeRequest", "answer"]

_METHOD_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/]+)\Z")
_FILE_PATH = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)\Z")
_NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}
_UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}


def _body(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode("utf-8")


def _read_content(content: Any) -> bytes:
    # PTB >= 21.5 may hand over an open file handle instead of bytes.
    if isinstance(content, bytes):
        return content
    if hasattr(content, "read"):
        data = content.read()
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    return bytes(content)


async def answer(
    fake: FakeTelegram, url: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
) -> tuple[int, bytes]:
    """The HTTP status and body Telegram would send for one request to `url`.

    Raises SimulatedTimeout when the fake was told to let this call time out.
    """
    path = unquote(urlsplit(url).path)
    file_match = _FILE_PATH.search(path)
    if file_match:
        if file_match["token"] != fake.token:
            return 401, _body(_UNAUTHORIZED)
        stored = fake.file_content(file_match["path"])
        return (404, _body(_NOT_FOUND)) if stored is None else (200, stored)
    match = _METHOD_PATH.search(path)
    if match is None:
        return 404, _body(_NOT_FOUND)
    if match["token"] != fake.token:
        return 401, _body(_UNAUTHORIZED)
    envelope = await fake.call(match["method"], params, files)
    status = 200 if envelope.get("ok") else int(envelope.get("error_code", 400))
    return status, _body(envelope)


class FakeRequest(BaseRequest):
    """Routes PTB's requests into a FakeTelegram in-process, as the HTTP transport would."""

    def __init__(self, fake: FakeTelegram, *, read_timeout: float | None = 5.0) -> None:
        self.fake = fake
        self._read_timeout = read_timeout
        self.initialized = False

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout; PTB adds getUpdates' long-poll timeout on top of it."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up: there is no connection pool."""
        self.initialized = True

    async def shutdown(self) -> None:
        """Nothing to tear down: there is no connection pool."""
        self.initialized = False

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer one request with the HTTP status and body Telegram would send."""
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request_data is not None:
            # A JSON round trip keeps exactly what the HTTP transport could carry (tuples
            # become lists; anything unserialisable fails here just as it would in httpx).
            params = {
                key: value if isinstance(value, str) else json.loads(json.dumps(value))
                for key, value in request_data.parameters.items()
            }
            for name, field_tuple in request_data.multipart_data.items():
                filename, content = field_tuple[0], field_tuple[1]
                files[name] = (filename or name, _read_content(content))
        try:
            return await answer(self.fake, url, params, files)
        except SimulatedTimeout:
            # What HTTPXRequest raises when Telegram does not answer in time.
            raise TimedOut from None
