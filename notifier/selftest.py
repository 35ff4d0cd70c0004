"""Proxy self-test: open a stream through the public URL and say what the path in front does.

SSE breaks quietly behind proxies: a buffering proxy holds events until a buffer fills (the page
looks connected and shows nothing), and an idle timeout below the ping interval cuts every
stream. :func:`run` measures, through the URL that users reach, with an admin API token:

* time to first byte: request sent → response headers, and → the first event (``connected``);
* buffering: a test notification is published to the caller (in-app only, deleted afterwards)
  and its arrival on the stream is timed against the publish; missing within
  ``event_timeout`` seconds, or a stream whose first event never came, means buffered;
* the idle cut-off: the stream is held up to ``idle_bound`` seconds; if the path closes it, the
  silence before the close is the cut-off (pings reset a proxy's idle timer, so a cut-off is seen
  only when it is below the ping interval, which is exactly when it matters).

Used by ``flask --app app selftest URL`` (notifier/cli.py) and the admin page's button.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from notifier.selftest_report import Result

if TYPE_CHECKING:
    from notifier.models import User

STREAM_PATH = "/api/v1/notifications/stream"
# Arrival later than this after the publish counts as buffered too: an unbuffered path adds
# milliseconds; a proxy that flushes on a timer (or a buffer filled by pings) adds seconds.
BUFFERED_DELAY = 2.0


class _Api:
    """Tiny JSON client for the publish/cleanup calls, with the bearer token."""

    def __init__(self, base: str, token: str, timeout: float) -> None:
        self.base = base
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        """Send one request (connection closed after it) and return (status, JSON or None)."""
        conn = _connect(self.base, self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Authorization": f"Bearer {self.token}", "Connection": "close"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, _prefix(self.base) + path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                return resp.status, json.loads(raw) if raw else None
            except ValueError:
                return resp.status, None
        finally:
            conn.close()


def _prefix(base: str) -> str:
    return urlsplit(base).path.rstrip("/")


def _connect(base: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {base!r}")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


class _Reader(threading.Thread):
    """Read the stream body, recording when each SSE event arrived (and when it ended)."""

    def __init__(self, resp: http.client.HTTPResponse, encoding: str = "") -> None:
        super().__init__(daemon=True)
        self.resp = resp
        # gzip or deflate: decompress as bytes come, so events are seen when they could be.
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
        self._inflate = zlib.decompressobj(wbits) if wbits else None
        self.events: list[tuple[float, str, str]] = []  # (monotonic, event name, data)
        self.last_byte: float | None = None
        self.closed_at: float | None = None
        self.changed = threading.Condition()
        self._buf = b""

    def run(self) -> None:
        try:
            while True:
                chunk = self.resp.read1(65536)
                if not chunk:
                    break
                now = time.monotonic()
                if self._inflate is not None:
                    chunk = self._inflate.decompress(chunk)
                with self.changed:
                    self.last_byte = now
                    self._parse(chunk, now)
                    self.changed.notify_all()
        except (OSError, http.client.HTTPException, ValueError, zlib.error):
            pass  # a cut connection ends the stream like EOF does
        with self.changed:
            self.closed_at = time.monotonic()
            self.changed.notify_all()

    def _parse(self, chunk: bytes, now: float) -> None:
        self._buf += chunk.replace(b"\r\n", b"\n")
        while b"\n\n" in self._buf:
            block, self._buf = self._buf.split(b"\n\n", 1)
            name, data = "message", []
            for line in block.decode("utf-8", "replace").split("\n"):
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
            if data or name != "message":
                self.events.append((now, name, "\n".join(data)))

    def wait(self, predicate: object, timeout: float) -> bool:
        """Wait until ``predicate()`` holds or the stream ended; return whether it holds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():  # type: ignore[operator]
                left = deadline - time.monotonic()
                if left <= 0 or self.closed_at is not None:
                    return bool(predicate())  # type: ignore[operator]
                self.changed.wait(min(left, 0.5))
            return True


def run(
    base_url: str,
    token: str,
    *,
    ping_interval: float,
    idle_bound: float = 90.0,
    event_timeout: float = 5.0,
    first_event_timeout: float = 5.0,
) -> Result:
    """Run the self-test against ``base_url`` with an admin API ``token``; never raises."""
    base = base_url.rstrip("/")
    result = Result(url=base, ping_interval=ping_interval, idle_bound=idle_bound)
    api = _Api(base, token, timeout=max(event_timeout, 10.0))
    try:
        status, me = api.call("GET", "/api/v1/me")
        if status != 200 or not isinstance(me, dict):
            result.error = (
                f"GET /api/v1/me answered {status}: is this Notifier, is the token valid?"
            )
            return result
        conn = _connect(base, timeout=first_event_timeout)  # the headers' deadline
    except (OSError, ValueError, http.client.HTTPException) as exc:
        result.error = f"cannot reach {base}: {exc}"
        return result
    try:
        _probe(conn, api, result, int(me["id"]), event_timeout, first_event_timeout)
    except (OSError, http.client.HTTPException) as exc:
        result.error = result.error or f"stream failed: {exc}"
    finally:
        _close(conn)
    return result


def _close(conn: http.client.HTTPConnection) -> None:
    """End the stream: shut the socket (the reader thread sees EOF), then close."""
    sock = conn.sock
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    reader = getattr(conn, "_selftest_reader", None)
    if reader is not None:
        reader.join(timeout=5)  # closing the response under a blocked read1() raises
    conn.close()


def _probe(
    conn: http.client.HTTPConnection,
    api: _Api,
    result: Result,
    user_id: int,
    event_timeout: float,
    first_event_timeout: float,
) -> None:
    start = time.monotonic()
    # Accept-Encoding as browsers send it: a proxy that compresses the stream holds events in
    # its compressor, which is one of the buffering cases this test exists to find.
    headers = {
        "Authorization": f"Bearer {api.token}",
        "Accept": "text/event-stream",
        "Accept-Encoding": "gzip, deflate",
        "Cache-Control": "no-cache",
    }
    conn.request("GET", _prefix(api.base) + STREAM_PATH, headers=headers)
    try:
        resp = conn.getresponse()
    except TimeoutError:
        # A proxy that holds the body until its buffer fills holds the headers with it.
        result.buffered = True
        result.notes.append(f"no response headers within {first_event_timeout:g} s")
        return
    result.headers_s = time.monotonic() - start
    if conn.sock is not None:  # from here the reader waits as long as the hold lasts
        conn.sock.settimeout(result.idle_bound + 30)
    result.status = resp.status
    if resp.status != 200:
        result.error = f"the stream answered {resp.status} {resp.reason}"
        return
    encoding = (resp.getheader("Content-Encoding") or "").strip().lower()
    if encoding:
        result.notes.append(f"the stream arrives compressed (Content-Encoding: {encoding})")
    reader = _Reader(resp, encoding)
    conn._selftest_reader = reader  # type: ignore[attr-defined]
    reader.start()
    if reader.wait(lambda: reader.events, first_event_timeout):
        result.first_event_s = reader.events[0][0] - start
    else:
        result.notes.append(f"no event within {first_event_timeout:g} s of the request")
    marker = f"Notifier self-test {secrets.token_hex(4)}"
    sent = time.monotonic()
    status, body = api.call(
        "POST",
        "/api/v1/notifications",
        {
            "user_id": user_id,
            "type": "system",
            "title": marker,
            "priority": "low",
            "channels": ["in_app"],
        },
    )
    if status != 201 or not isinstance(body, dict):
        result.error = f"publishing the test event answered {status} (an admin token is needed)"
        return
    note_id = body.get("notification", {}).get("id")

    def arrived() -> bool:
        return any(n == "notification" and marker in d for _, n, d in reader.events)

    try:
        if reader.wait(arrived, event_timeout):
            at = next(t for t, n, d in reader.events if n == "notification" and marker in d)
            result.event_delay_s = at - sent
            result.buffered = result.event_delay_s > BUFFERED_DELAY or not result.first_event_s
        else:
            result.buffered = True
            result.notes.append(f"the test event did not arrive within {event_timeout:g} s")
        _hold(reader, result, start)
    finally:
        if note_id is not None:
            api.call("DELETE", f"/api/v1/notifications/{note_id}")


def _hold(reader: _Reader, result: Result, start: float) -> None:
    """Hold the stream up to idle_bound seconds; a close by the path gives the cut-off."""
    remaining = result.idle_bound - (time.monotonic() - start)
    if remaining > 0:
        reader.wait(lambda: reader.closed_at is not None, remaining)
    result.held_s = time.monotonic() - start
    if reader.closed_at is not None:
        quiet_since = reader.last_byte if reader.last_byte is not None else start
        result.idle_cutoff_s = max(0.0, reader.closed_at - quiet_since)
        result.held_s = reader.closed_at - start


@contextmanager
def temporary_token(user: User) -> Iterator[str]:
    """Yield a fresh API token of ``user`` for one self-test; it is revoked afterwards."""
    from notifier.service import accounts

    row, plaintext = accounts.create_token_row(user, "selftest", capped=False)
    try:
        yield plaintext
    finally:
        accounts.revoke_token(user, row.id)
