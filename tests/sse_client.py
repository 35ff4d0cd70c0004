"""A small SSE client over a raw socket, for tests against real servers.

It speaks HTTP/1.1 (chunked responses, as browsers see them), parses events incrementally as
the spec says (``\\r\\n``, ``\\r`` or ``\\n`` line ends; one optional space after the colon; an
event is dispatched on a blank line; ``id`` persists until changed), resumes with
``Last-Event-ID`` like EventSource, and counts what the resume tests assert on: every
``notification``/``update`` id received, duplicates, and ids that went backwards.
"""

from __future__ import annotations

import codecs
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gevent
from flask.testing import FlaskClient

LOGGED = ("notification", "update")
_LINE = re.compile(r"\r\n|\r|\n")


@dataclass
class SSEEvent:
    """One dispatched event."""

    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        """Return the data parsed as JSON."""
        return json.loads(self.data)


class SSEParser:
    """Parse an SSE byte stream incrementally, as EventSource does."""

    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        self._id_buffer = last_event_id
        self.retry: int | None = None
        self._text = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._pending = self._new_event()

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete."""
        self._text += self._decoder.decode(data)
        return self._parse()

    @staticmethod
    def _new_event() -> dict[str, Any]:
        return {"event": "", "data": [], "has_data": False}

    def _parse(self) -> list[SSEEvent]:
        """Dispatch every complete event in the text buffer."""
        out: list[SSEEvent] = []
        while True:
            match = _LINE.search(self._text)
            if match is None:
                break
            # A lone \r at the very end may be the first half of \r\n: wait for more.
            if match.group() == "\r" and match.end() == len(self._text):
                break
            line, self._text = self._text[: match.start()], self._text[match.end() :]
            if line == "":
                # The id takes effect when the event is dispatched, not when its line arrives:
                # a stream cut mid-event must not advance the resume point past that event.
                self.last_event_id = self._id_buffer
                ev = self._pending
                self._pending = self._new_event()
                if not ev["has_data"]:
                    continue
                name = ev["event"] or "message"
                out.append(SSEEvent(name, "\n".join(ev["data"]), self.last_event_id))
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "event":
                self._pending["event"] = value
            elif name == "data":
                self._pending["data"].append(value)
                self._pending["has_data"] = True
            elif name == "id" and "\0" not in value:
                self._id_buffer = value
            elif name == "retry" and value.isdigit():
                self.retry = int(value)
        return out


class SSEClient:
    """Connect to an SSE endpoint and read events with deadlines (never sleeps blindly)."""

    def __init__(
        self,
        base_url: str,
        path: str = "/api/v1/notifications/stream",
        *,
        headers: dict[str, str] | None = None,
        last_event_id: str | None = None,
        rcvbuf: int | None = None,
        connect: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = path
        self.headers = headers or {}
        self.last_event_id = last_event_id
        self.rcvbuf = rcvbuf
        self.sock: socket.socket | None = None
        self.status = 0
        self.response_headers: dict[str, str] = {}
        self.body = b""
        self.events: list[SSEEvent] = []
        self._consumed = 0  # wait_event() has returned the events before this index
        self.logged_ids: list[int] = []
        self._seen: set[int] = set()
        self.duplicates = 0
        self.backwards = 0
        self.retry: int | None = None
        self.eof = False
        self.connections = 0
        if connect:
            self.connect()

    # -- connection ---------------------------------------------------------------------

    def connect(self, timeout: float = 10.0) -> SSEClient:
        """Open the connection, send the request and read the response head."""
        self.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf:  # a tiny receive window makes a client that stops reading stall fast
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.settimeout(timeout)
        sock.connect((self.host, self.port))
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: text/event-stream",
            "Cache-Control: no-cache",
        ]
        if self.last_event_id:
            lines.append(f"Last-Event-ID: {self.last_event_id}")
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.sock = sock
        self.connections += 1
        self.eof = False
        self._raw = b""
        self._raw_chunks = b""
        self._parser = SSEParser(self.last_event_id)
        self._chunk_left: int | None = None  # None: expecting a chunk-size line
        self._read_head(time.monotonic() + timeout)
        return self

    def reconnect(self, timeout: float = 10.0) -> SSEClient:
        """Reconnect as EventSource does: with Last-Event-ID set to the last id received."""
        return self.connect(timeout)

    def close(self) -> None:
        """Close the socket (the server notices on its next ping at the latest)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def abort(self) -> None:
        """Reset the connection (RST instead of FIN), as a crashed client would."""
        if self.sock is not None:
            self.sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close()

    def _recv(self, deadline: float) -> bytes:
        assert self.sock is not None
        self.sock.settimeout(max(0.01, min(0.5, deadline - time.monotonic())))
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, BlockingIOError):
            return b""
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
        return data

    def _read_head(self, deadline: float) -> None:
        while b"\r\n\r\n" not in self._raw:
            if time.monotonic() > deadline or self.eof:
                raise TimeoutError(f"no response head from {self.path}: {self._raw[:200]!r}")
            self._raw += self._recv(deadline)
        head, self._raw = self._raw.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.response_headers = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            self.response_headers[key.strip().lower()] = value.strip()
        self.chunked = self.response_headers.get("transfer-encoding", "").lower() == "chunked"
        leftover, self._raw = self._raw, b""
        if self.status != 200:
            self._raw = leftover
            self._read_body(deadline)
        elif leftover:
            self._decode(leftover)

    def _read_body(self, deadline: float) -> None:
        length = int(self.response_headers.get("content-length", "-1"))
        while not self.eof and time.monotonic() < deadline:
            self._decode(self._raw)
            self._raw = b""
            if length >= 0 and len(self.body) >= length or self._chunk_left == -1:
                break
            self._raw = self._recv(deadline)

    def json_body(self) -> Any:
        """Return a non-200 response's body as JSON."""
        return json.loads(self.body)

    # -- decoding -----------------------------------------------------------------------

    def _decode(self, data: bytes) -> None:
        """Undo chunked transfer encoding; append payload to body (errors) or to the text."""
        if not self.chunked:
            self._payload(data)
            return
        buf = self._raw_chunks + data
        while buf:
            if self._chunk_left is None:
                if b"\r\n" not in buf:
                    break
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self._chunk_left = -1  # last chunk: the response is complete
                    self.eof = True
                    buf = b""
                    break
                self._chunk_left = size
            elif self._chunk_left == -1:
                buf = b""
            elif self._chunk_left > 0:
                take = buf[: self._chunk_left]
                buf = buf[len(take) :]
                self._chunk_left -= len(take)
                self._payload(take)
            else:  # the CRLF after a chunk
                if len(buf) < 2:
                    break
                buf = buf[2:]
                self._chunk_left = None
        self._raw_chunks = buf

    def _payload(self, data: bytes) -> None:
        if self.status != 200:
            self.body += data
            return
        for event in self._parser.feed(data):
            self._record(event)
        self.last_event_id = self._parser.last_event_id
        self.retry = self._parser.retry if self._parser.retry is not None else self.retry

    def _record(self, event: SSEEvent) -> None:
        self.events.append(event)
        if event.event in LOGGED and event.id is not None:
            cursor = int(event.id)
            if cursor in self._seen:
                self.duplicates += 1
            elif self.logged_ids and cursor < self.logged_ids[-1]:
                self.backwards += 1
            self.logged_ids.append(cursor)
            self._seen.add(cursor)

    # -- reading ------------------------------------------------------------------------

    def read(self, timeout: float = 0.5) -> list[SSEEvent]:
        """Read what arrives within ``timeout`` seconds (or until EOF); return new events."""
        deadline = time.monotonic() + timeout
        out: list[SSEEvent] = []
        while not self.eof and time.monotonic() < deadline:
            data = self._recv(deadline)
            if data:
                before = len(self.events)
                self._decode(data)
                out += self.events[before:]
                if out:
                    break
        return out

    def wait_for(self, predicate: Callable[[SSEClient], bool], timeout: float = 30.0) -> bool:
        """Read until ``predicate(self)`` holds, EOF, or the deadline; return the predicate."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.eof or time.monotonic() > deadline:
                return predicate(self)
            self.read(min(0.5, max(0.01, deadline - time.monotonic())))
        return True

    def wait_event(self, name: str, timeout: float = 30.0) -> SSEEvent | None:
        """Return the next event named ``name`` not returned by an earlier wait_event call."""

        def find(c: SSEClient) -> int | None:
            return next(
                (i for i in range(c._consumed, len(c.events)) if c.events[i].event == name), None
            )

        self.wait_for(lambda c: find(c) is not None, timeout)
        index = find(self)
        if index is None:
            return None
        self._consumed = index + 1
        return self.events[index]

    def wait_logged(self, count: int, timeout: float = 60.0) -> bool:
        """Wait until ``count`` distinct notification/update ids have arrived."""
        return self.wait_for(lambda c: len(set(c.logged_ids)) >= count, timeout)

    def named(self, name: str) -> list[SSEEvent]:
        """Return the events named ``name`` received so far."""
        return [e for e in self.events if e.event == name]

    def counts(self) -> dict[str, int]:
        """Return received / distinct / duplicates / backwards for the logged events."""
        return {
            "received": len(self.logged_ids),
            "distinct": len(set(self.logged_ids)),
            "duplicates": self.duplicates,
            "backwards": self.backwards,
        }


# -- in-process streams (Flask test client) ------------------------------------------------

STREAM = "/api/v1/notifications/stream"


class Tab:
    """One stream opened through Flask's test client, read chunk by chunk (in-process tests).

    Reads are bounded by a gevent.Timeout, so a missing event fails instead of hanging.
    """

    def __init__(self, client: FlaskClient, path: str = STREAM, **kw: Any) -> None:
        self.resp = client.get(path, buffered=False, **kw)
        self.status = self.resp.status_code
        self._chunks = iter(self.resp.response)
        self.parser = SSEParser()
        self.events: list[SSEEvent] = []
        self._consumed = 0  # wait_event() has returned the events before this index
        self.ended = False

    def read(self, timeout: float = 10) -> list[SSEEvent]:
        """Return the events of the next chunk the stream yields."""
        try:
            with gevent.Timeout(timeout, AssertionError("no chunk within the deadline")):
                chunk = next(self._chunks)
        except StopIteration:
            self.ended = True
            return []
        new = self.parser.feed(chunk)
        self.events += new
        return new

    def read_until(self, name: str, timeout: float = 10) -> list[SSEEvent]:
        """Read chunks until an event named ``name`` arrives; return everything read."""
        got: list[SSEEvent] = []
        while not any(e.event == name for e in got):
            new = self.read(timeout)
            if self.ended:
                break
            got += new
        return got

    def close(self) -> None:
        """Close the response, as the server does when the client goes away."""
        self.resp.close()


def names(evs: list[SSEEvent]) -> list[str]:
    """Return the event names, in order."""
    return [e.event for e in evs]


def logged(evs: list[SSEEvent]) -> list[int]:
    """Return the cursors of the notification/update events, in order."""
    return [int(e.id) for e in evs if e.event in ("notification", "update") and e.id]


# -- live servers (tests/fixtures_live.py) ---------------------------------------------------


def token_for(server: Any, email: str) -> str:
    """Create an API token for ``email`` on ``server``'s database."""
    return str(server.flask("create-token", email)).strip()


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def publish(base_url: str, admin_token: str, email: str, title: str, body: str = "") -> int:
    """POST one in-app notification; return the HTTP status (201 once committed)."""
    from tests.fixtures_live import http_json

    status, _ = http_json(
        "POST",
        base_url + "/api/v1/notifications",
        {"email": email, "type": "comment", "title": title, "body": body, "channels": ["in_app"]},
        headers=bearer(admin_token),
        timeout=30,
    )
    return status


def report(label: str, sent: int, client: SSEClient) -> str:
    """Print and return the sent/received/duplicate counts a test measured."""
    c = client.counts()
    line = (
        f"[{label}] sent={sent} received={c['received']} distinct={c['distinct']} "
        f"duplicates={c['duplicates']} out_of_order={c['backwards']} "
        f"connections={client.connections}"
    )
    print(line)
    return line
