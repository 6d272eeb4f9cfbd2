"""One keep-alive HTTP/1.1 connection that POSTs JSON, for bulk sends at paid-broadcast rates.

httpx (over httpcore, h11 and anyio) was most of the bot's CPU per bulk message, about 0.5 ms
(docs/PERFORMANCE.md): the engine needs none of its generality. This speaks the little of HTTP/1.1
that posting to the Bot API takes: one request at a time on a connection kept alive, an answer
framed by Content-Length or chunked, or ended by the server closing. Anything else, and every
network failure, raises one of httpx's exceptions, so the sender treats both paths alike.

Nothing here logs, and no exception carries the request's path (it holds the bot token).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httpx

# Generous: a Bot API answer is a few hundred bytes of headers.
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to connect, and to get a whole answer once the request is written."""

    connect: float = 5.0
    read: float = 10.0


class _Answer(asyncio.Protocol):
    """Reads one answer after another from the connection; `waiter` gets (status, body)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        # Done once the connection is closed (aclose waits for it).
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.keep_alive = True
        self._buffer = bytearray()
        self._status = 0
        self._length: int | None = None
        self._chunked = False
        self._head_read = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self.waiter is None or self.waiter.done():
            # Bytes nobody asked for: the connection can't be trusted to frame the next answer.
            self.keep_alive = False
            return
        try:
            self._parse()
        except httpx.RemoteProtocolError as exc:
            self.keep_alive = False
            self.waiter.set_exception(exc)

    def eof_received(self) -> bool:
        waiting = self.waiter is not None and not self.waiter.done()
        if waiting and self._head_read and self._length is None and not self._chunked:
            # No framing: the answer is whatever came before the server closed.
            assert self.waiter is not None
            self.keep_alive = False
            self.waiter.set_result((self._status, bytes(self._buffer)))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        self.keep_alive = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(
                httpx.RemoteProtocolError("server disconnected without a complete answer")
            )

    def expect(self, waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        """The next answer goes to `waiter`."""
        self.waiter = waiter
        self._buffer.clear()
        self._head_read = False

    def _parse(self) -> None:
        assert self.waiter is not None
        if not self._head_read and not self._parse_head():
            return
        if self._chunked:
            body = self._dechunk()
            if body is None:
                return
        elif self._length is not None:
            if len(self._buffer) < self._length:
                return
            if len(self._buffer) > self._length:
                self.keep_alive = False
            body = bytes(self._buffer[: self._length])
        else:
            # Read until the server closes (eof_received).
            return
        self.waiter.set_result((self._status, body))

    def _parse_head(self) -> bool:
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD_BYTES:
                    raise httpx.RemoteProtocolError("answer head too long")
                return False
            lines = bytes(self._buffer[:end]).split(b"\r\n")
            del self._buffer[: end + 4]
            parts = lines[0].split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise httpx.RemoteProtocolError("not an HTTP/1.1 answer")
            status = int(parts[1])
            if 100 <= status < 200:
                # An interim answer (100 Continue): the real one follows.
                continue
            self._status = status
            self._length = None
            self._chunked = False
            if parts[0] == b"HTTP/1.0":
                self.keep_alive = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                value = value.strip().lower()
                if name == b"content-length":
                    if not value.isdigit() or int(value) > _MAX_BODY_BYTES:
                        raise httpx.RemoteProtocolError("bad Content-Length")
                    self._length = int(value)
                elif name == b"transfer-encoding":
                    self._chunked = value.endswith(b"chunked")
                elif name == b"connection" and value == b"close":
                    self.keep_alive = False
            self._head_read = True
            return True

    def _dechunk(self) -> bytes | None:
        """The body if every chunk has arrived, else None (parsed again when more comes)."""
        body = bytearray()
        at = 0
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size_text = bytes(buffer[at:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError("bad chunk size") from None
            if size == 0:
                # Trailers, if any, end with an empty line.
                trailer_end = buffer.find(b"\r\n", line_end + 2)
                while trailer_end >= 0 and trailer_end != line_end + 2:
                    line_end = trailer_end
                    trailer_end = buffer.find(b"\r\n", line_end + 2)
                if trailer_end < 0:
                    return None
                return bytes(body)
            start = line_end + 2
            if len(buffer) < start + size + 2:
                return None
            body += buffer[start : start + size]
            if len(body) > _MAX_BODY_BYTES:
                raise httpx.RemoteProtocolError("answer too long")
            at = start + size + 2


class JsonPoster:
    """POSTs JSON bodies to one URL over one connection, opened on first use and kept alive.

    One request at a time: the caller lends the poster to one send at a time.
    """

    def __init__(
        self, url: str, *, tls: ssl.SSLContext | None = None, timeouts: Timeouts | None = None
    ) -> None:
        parsed = httpx.URL(url)
        self._https = parsed.scheme == "https"
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("the Bot API URL must be http:// or https:// with a host")
        self._host = parsed.host
        self._port = parsed.port or (443 if self._https else 80)
        if tls is None and self._https:
            tls = httpx.create_ssl_context()
        self._tls = tls
        self._timeouts = timeouts or Timeouts()
        host_header = parsed.netloc.decode("ascii")
        path = parsed.raw_path.decode("ascii")
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            "Content-Length: "
        ).encode("ascii")
        self._answers: _Answer | None = None
        self._closing: list[_Answer] = []

    async def _connect(self) -> _Answer:
        loop = asyncio.get_running_loop()
        try:
            _, answers = await asyncio.wait_for(
                loop.create_connection(
                    _Answer,
                    self._host,
                    self._port,
                    ssl=self._tls,
                    server_hostname=self._host if self._https else None,
                ),
                self._timeouts.connect,
            )
        except TimeoutError:
            raise httpx.ConnectTimeout("connecting timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(type(exc).__name__) from None
        return answers

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """The answer's status and body; raises httpx.TransportError subclasses on trouble."""
        answers = self._answers
        if answers is None or answers.closed or not answers.keep_alive:
            # The server closed an idle connection (or asked to): a fresh one, before sending.
            self.close()
            answers = self._answers = await self._connect()
        assert answers.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        answers.expect(waiter)
        answers.transport.write(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        timer = loop.call_later(self._timeouts.read, _time_out, waiter)
        try:
            return await waiter
        except BaseException:
            # Timed out, cancelled or broken mid-answer: the connection's framing is lost.
            self.close()
            raise
        finally:
            timer.cancel()
            answers.waiter = None

    def close(self) -> None:
        """Close the connection (the next post opens a new one)."""
        answers, self._answers = self._answers, None
        if answers is not None and answers.transport is not None:
            answers.transport.close()
            self._closing.append(answers)

    async def aclose(self) -> None:
        """Close the connection and wait until it is closed."""
        self.close()
        closing, self._closing = self._closing, []
        for answers in closing:
            await answers.lost


def _time_out(waiter: asyncio.Future[tuple[int, bytes]]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("no answer in time"))
