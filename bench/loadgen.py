"""A lean HTTP/1.1 load generator for the benchmarks: kept-alive connections that write each request as
bytes and read the answer by its Content-Length.

httpx costs about 3 ms of CPU per request here (its pools, its models and an h11 state machine per
request). On this 2-core machine that made the load generator the bottleneck of the single-POST
benchmark: the minimal baseline endpoint answered under 300 requests/s with it, and 1,450-1,650 requests/s
with this client, which costs 50-80 us per request. Measured with httpx, every server looked the same.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class KeptAliveConnection:
    """One HTTP/1.1 connection kept open between requests, one request at a time."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"an http://host:port base URL, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port
        self._head = (
            f"Host: {self.host}:{self.port}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        ).encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
            self._reader = self._writer = None

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON); the status and the answer's bytes. A connection closed by the server
        (its keep-alive timeout, a restart) is opened again once; the caller makes the request safe to
        repeat (a source id)."""
        if self._writer is None:
            await self.open()
        try:
            return await self._exchange(path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            await self.close()
            await self.open()
            return await self._exchange(path, body)

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (path.encode("latin-1"), self._head, len(body), body)
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, _, fields = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        close = False
        for line in fields.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("a chunked answer: this client reads answers by Content-Length only")
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self._reader.readexactly(length or 0)
        if close:
            await self.close()
        return status, data
