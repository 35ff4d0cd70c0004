"""Hold thousands of SSE streams from one asyncio process, one incremental parser each.

Every stream is an :class:`asyncio.Protocol` over a raw socket (HTTP/1.0, so no chunked
framing): ``data_received`` splits complete events and, for each ``notification``, checks its
cursor against the last one (an id not above it is a duplicate) and records the arrival time
of the title's sequence number. No coroutine per stream or per message: 10,000 streams cost
the client one callback per TCP read.
"""

from __future__ import annotations

import asyncio
import re
import resource
import time
from collections import defaultdict
from collections.abc import Callable

ID = re.compile(rb"^id: ?(\d+)", re.M)
SEQ = re.compile(rb'"title":"b(\d+)"')


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard one; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Arrivals:
    """Arrival times per sequence number, and when each was sent."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.got: dict[int, list[float]] = defaultdict(list)

    def count(self, seqs: list[int]) -> int:
        """Return how many deliveries of ``seqs`` arrived."""
        return sum(len(self.got.get(s, ())) for s in seqs)

    def latencies(self, seqs: list[int]) -> list[float]:
        """Return every delivery's latency (s) after its send."""
        return [t - self.sent[s] for s in seqs for t in self.got.get(s, ())]


class Stream(asyncio.Protocol):
    """One SSE connection: parse events incrementally, count by cursor."""

    def __init__(self, request: bytes, arrivals: Arrivals, last: int = 0) -> None:
        self.request = request
        self.arrivals = arrivals
        self.buf = b""
        self.status = 0
        self.last = last  # newest cursor seen (also what a resume sends)
        self.received = 0  # notifications with a new cursor
        self.dups = 0
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the request."""
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        """Parse whatever complete events arrived."""
        buf = self.buf + data
        if not self.status:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            self.status = int(buf[9:12])
            buf = buf[end + 4 :]
            if self.status != 200:
                self._settle(RuntimeError(f"stream answered {self.status}"))
                return
        end = buf.rfind(b"\n\n")
        if end < 0:
            self.buf = buf
            return
        self.buf = buf[end + 2 :]
        now = time.perf_counter()
        for block in buf[:end].split(b"\n\n"):
            self._settle(None)
            if b"event: notification" not in block:
                continue
            m = ID.search(block)
            cursor = int(m.group(1)) if m else 0
            if cursor <= self.last:
                self.dups += 1
                continue
            self.last = cursor
            self.received += 1
            s = SEQ.search(block)
            if s:
                self.arrivals.got[int(s.group(1))].append(now)

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail a stream that never opened."""
        self._settle(exc or RuntimeError("stream closed before its first event"))

    def _settle(self, exc: Exception | None) -> None:
        if self.ready.done():
            return
        if exc is None:
            self.ready.set_result(None)
        else:
            self.ready.set_exception(exc)

    def close(self) -> None:
        """Drop the connection."""
        if self.transport is not None:
            self.transport.close()


class Http:
    """One keep-alive HTTP/1.1 connection for POSTs (Content-Length answers only)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        """Send one request and return its status (reconnecting once if the server closed)."""
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
            )
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            try:
                self.writer.write(head.encode() + body)
                raw = await self.reader.readuntil(b"\r\n\r\n")  # type: ignore[union-attr]
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
                continue
            status = int(raw[9:12])
            length = 0
            close = False
            for line in raw.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"connection" and value.strip().lower() == b"close":
                    close = True
            await self.reader.readexactly(length)  # type: ignore[union-attr]
            if close:
                self.close()
            return status
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def open_streams(
    host: str, port: int, requests: list[tuple[bytes, int]], arrivals: Arrivals, parallel: int = 64
) -> list[Stream]:
    """Open one stream per (request, last cursor); return those that got their first event.

    A refused or failed stream is left out: the caller counts it (``failed_streams``).
    """
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(parallel)

    async def one(request: bytes, last: int) -> Stream:
        async with gate:
            _, proto = await loop.create_connection(
                lambda: Stream(request, arrivals, last), host, port
            )
            await asyncio.wait_for(proto.ready, 60)
            return proto

    results = await asyncio.gather(*(one(r, last) for r, last in requests), return_exceptions=True)
    return [r for r in results if isinstance(r, Stream)]


async def wait_for(done: Callable[[], bool], timeout: float) -> bool:
    """Poll ``done`` every 5 ms until it holds or ``timeout`` passes."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True
