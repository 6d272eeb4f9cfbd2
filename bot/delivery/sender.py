"""The HTTP side of bulk sending: several one-connection clients instead of one big pool.

httpcore's connection pool rescans every connection for every request, so one client with many
connections spends more CPU the more sends are in flight (measured in bench/broadcast.py: a
64-connection pool halved throughput). Each send here borrows a whole client with one
keep-alive connection, and gives it back when the answer has come.
"""

from __future__ import annotations

import asyncio

# PTB's own annotation for timeouts; BaseRequest.do_request is typed with it.
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, HTTPXRequest, RequestData


class PooledRequest(BaseRequest):
    """A BaseRequest over `size` HTTPXRequests of one connection each."""

    def __init__(self, size: int, *, read_timeout: float = 10.0) -> None:
        self._clients = [
            HTTPXRequest(connection_pool_size=1, read_timeout=read_timeout) for _ in range(size)
        ]
        self._idle: asyncio.Queue[HTTPXRequest] | None = None
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout of every client."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open every client."""
        self._idle = asyncio.Queue()
        for client in self._clients:
            await client.initialize()
            self._idle.put_nowait(client)

    async def shutdown(self) -> None:
        """Close every client."""
        for client in self._clients:
            await client.shutdown()

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
        """Send on the first idle client (waiting for one if all are busy)."""
        if self._idle is None:
            await self.initialize()
        assert self._idle is not None
        client = await self._idle.get()
        try:
            return await client.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        finally:
            self._idle.put_nowait(client)
