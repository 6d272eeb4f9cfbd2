"""The fake Telegram served over HTTP on loopback, so a real PTB Application can talk to it."""

from __future__ import annotations

import asyncio
import json
import logging
from types import TracebackType
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from .fake_api import FakeTelegram

__all__ = ["FakeTelegramServer"]

_LOGGER = logging.getLogger(__name__)
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# Telegram accepts uploads up to 50 MB; leave room for the multipart envelope.
_MAX_BODY_BYTES = 60 * 1024 * 1024


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # Only the last path segment: the full path would put the bot token in the log.
    if not _LOGGER.isEnabledFor(logging.DEBUG):
        return
    request = handler.request
    _LOGGER.debug(
        "%s …/%s -> %s (%.1f ms)",
        request.method,
        request.path.rpartition("/")[2],
        handler.get_status(),
        request.request_time() * 1000,
    )


class _JsonHandler(tornado.web.RequestHandler):
    """Shared JSON answering; error pages are Bot API envelopes, never HTML."""

    def reply(self, envelope: dict[str, Any]) -> None:
        status = 200 if envelope.get("ok") else int(envelope.get("error_code", 500))
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(envelope))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        body = {"ok": False, "error_code": status_code, "description": self._reason}
        self.finish(json.dumps(body))


class _NotFoundHandler(_JsonHandler):
    """Any path that is not /bot<token>/<method> or /file/bot<token>/<path>."""

    def prepare(self) -> None:
        self.reply({"ok": False, "error_code": 404, "description": "Not Found"})


class _ApiHandler(_JsonHandler):
    """/bot<token>/<method>: GET or POST with query, form, multipart or JSON parameters."""

    def initialize(self, server: FakeTelegramServer) -> None:
        self.server = server
        self.inner: asyncio.Task[dict[str, Any]] | None = None

    async def get(self, token: str, method: str) -> None:
        await self.handle(token, method)

    async def post(self, token: str, method: str) -> None:
        await self.handle(token, method)

    async def handle(self, token: str, method: str) -> None:
        fake = self.server.fake
        if token != fake.token:
            self.reply({"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        try:
            params, files = self.read_params()
        except ValueError as exc:
            self.reply({"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"})
            return
        inner = asyncio.ensure_future(fake.call(method, params, files))
        self.inner = inner
        self.server.in_flight.add(inner)
        try:
            envelope = await inner
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            # The client hung up or the server is stopping; tornado drops writes to a closed
            # connection quietly, so answering unconditionally is safe.
            self.reply(
                {"ok": False, "error_code": 503, "description": "Service Unavailable: stopping"}
            )
            return
        finally:
            self.server.in_flight.discard(inner)
            self.inner = None
        self.reply(envelope)

    def read_params(self) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        request = self.request
        params: dict[str, Any] = {}
        try:
            for name, values in request.query_arguments.items():
                params[name] = values[-1].decode("utf-8")
            content_type = request.headers.get("Content-Type", "")
            if content_type.startswith("application/json"):
                if request.body.strip():
                    body = json.loads(request.body)
                    if not isinstance(body, dict):
                        raise ValueError("JSON body must be an object")
                    params.update(body)
            else:
                for name, values in request.body_arguments.items():
                    params[name] = values[-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"parameters must be UTF-8: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"can't parse JSON body: {exc}") from exc
        files = {
            name: (parts[-1].filename or name, parts[-1].body)
            for name, parts in request.files.items()
        }
        return params, files

    def on_connection_close(self) -> None:
        # Telegram drops an abandoned long poll; so do we, instead of waiting out its timeout.
        if self.inner is not None and not self.inner.done():
            self.inner.cancel()


class _FileHandler(_JsonHandler):
    """/file/bot<token>/<file_path>: downloads of files the fake stored."""

    def initialize(self, server: FakeTelegramServer) -> None:
        self.server = server

    def get(self, token: str, file_path: str) -> None:
        fake = self.server.fake
        if token != fake.token:
            self.reply({"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        content = fake.file_content(file_path)
        if content is None:
            self.reply({"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(content)


class FakeTelegramServer:
    """Serves a FakeTelegram at http://127.0.0.1:<port>/bot<token>/<method>."""

    def __init__(self, fake: FakeTelegram, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in _LOOPBACK:
            raise ValueError(f"the fake Telegram only listens on loopback, not {host!r}")
        self.fake = fake
        self.host = host
        self.port = port
        self.in_flight: set[asyncio.Task[dict[str, Any]]] = set()
        self._server: tornado.httpserver.HTTPServer | None = None

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder().base_url(...): PTB appends the token, then /<method>."""
        return f"http://{self._url_host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ApplicationBuilder().base_file_url(...): PTB appends the token, then /<path>."""
        return f"http://{self._url_host}:{self.port}/file/bot"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    async def start(self) -> None:
        """Bind the port (a free one when port=0) and start answering."""
        if self._server is not None:
            raise RuntimeError("server already started")
        app = tornado.web.Application(
            [
                (r"/bot([^/]+)/([^/]+)", _ApiHandler, {"server": self}),
                (r"/file/bot([^/]+)/(.+)", _FileHandler, {"server": self}),
            ],
            default_handler_class=_NotFoundHandler,
            log_function=_log_request,
        )
        sockets = tornado.netutil.bind_sockets(self.port, address=self.host)
        server = tornado.httpserver.HTTPServer(app, max_body_size=_MAX_BODY_BYTES)
        server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        self._server = server

    async def stop(self) -> None:
        """Stop listening, abandon pending long polls and close every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        # Telegram stops pushing to a webhook nobody serves any more; so does the fake.
        await self.fake.aclose()
        server.stop()
        pending = list(self.in_flight)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await server.close_all_connections()

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
