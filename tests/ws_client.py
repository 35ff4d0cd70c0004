"""A WebSocket test client over the ``websocket-client`` library, for live servers.

It records what a resuming integration would: every message, the cursors of the logged
events (``notification``/``update``), duplicates and cursors going backwards, and the close
code the server sent. Reads block on the socket with a deadline; nothing sleeps.
"""

from __future__ import annotations

import contextlib
import json
import struct
import time
from typing import Any

import websocket

WS_PATH = "/api/v1/notifications/ws"
LOGGED = ("notification", "update")


class WsClient:
    """One WebSocket stream to ``base_url``; reconnects resume after the last logged id."""

    def __init__(
        self, base_url: str, headers: dict[str, str] | None = None, query: str = ""
    ) -> None:
        self.base_url = base_url
        self.headers = headers or {}
        self.query = query
        self.ws: websocket.WebSocket | None = None
        self.messages: list[dict[str, Any]] = []
        self.logged_ids: list[int] = []
        self.duplicates = 0
        self.backwards = 0
        self.connections = 0
        self.close_code: int | None = None
        self.last_id: int | None = None

    @property
    def url(self) -> str:
        base = self.base_url.replace("http://", "ws://", 1) + WS_PATH
        return base + (f"?{self.query}" if self.query else "")

    def connect(self, *, resume: int | None = None, timeout: float = 15) -> WsClient:
        """Open the socket; with ``resume``, send the resume op first."""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "origin"}
        origin = {"origin": self.headers["Origin"]} if "Origin" in self.headers else {}
        self.ws = websocket.create_connection(
            self.url, header=[f"{k}: {v}" for k, v in headers.items()], timeout=timeout, **origin
        )
        self.connections += 1
        self.close_code = None
        if resume is not None:
            self.send({"op": "resume", "after": resume})
        return self

    def reconnect(self, timeout: float = 15) -> WsClient:
        """Reconnect, resuming after the last logged id seen (or the ``connected`` cursor)."""
        self.abort()
        return self.connect(resume=self.last_id, timeout=timeout)

    def send(self, doc: Any) -> None:
        assert self.ws is not None
        self.ws.send(doc if isinstance(doc, str) else json.dumps(doc))

    def recv(self, timeout: float = 15) -> dict[str, Any] | None:
        """Return the next message, or None once the server closed the socket."""
        assert self.ws is not None
        self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            return None
        if opcode != websocket.ABNF.OPCODE_TEXT:
            return self.recv(timeout)
        doc: dict[str, Any] = json.loads(data)
        self._record(doc)
        return doc

    def _record(self, doc: dict[str, Any]) -> None:
        self.messages.append(doc)
        if doc["event"] == "connected":
            self.last_id = self.last_id if self.last_id is not None else doc["id"]
            return
        if doc["event"] not in LOGGED:
            return
        cursor = int(doc["id"])
        if cursor in self.logged_ids:
            self.duplicates += 1
        elif self.logged_ids and cursor < self.logged_ids[-1]:
            self.backwards += 1
        self.logged_ids.append(cursor)
        self.last_id = cursor

    def until(self, event: str, timeout: float = 30) -> dict[str, Any]:
        """Read until a message named ``event`` arrives; return it (fails on close/deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = self.recv(max(0.1, deadline - time.monotonic()))
            assert doc is not None, f"closed ({self.close_code}) before {event!r}"
            if doc["event"] == event:
                return doc
        raise AssertionError(f"no {event!r} within {timeout}s")

    def wait_logged(self, count: int, timeout: float = 60) -> bool:
        """Read until ``count`` logged events arrived in total."""
        deadline = time.monotonic() + timeout
        while len(self.logged_ids) < count and time.monotonic() < deadline:
            try:
                if self.recv(max(0.1, deadline - time.monotonic())) is None:
                    return False
            except websocket.WebSocketTimeoutException:
                return False
        return len(self.logged_ids) >= count

    def wait_closed(self, timeout: float = 15) -> int | None:
        """Read until the server closes; return its close code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.recv(max(0.1, deadline - time.monotonic())) is None:
                return self.close_code
        raise AssertionError("still open")

    def named(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["event"] == event]

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake (as a crash or a network cut)."""
        if self.ws is not None:
            self.ws.shutdown()
            self.ws = None

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                self.ws.close(timeout=2)
            self.ws = None


def refused(base_url: str, headers: dict[str, str] | None = None, query: str = "") -> Any:
    """Try a handshake that must be refused; return (status, JSON body)."""
    client = WsClient(base_url, headers, query)
    try:
        client.connect()
    except websocket.WebSocketBadStatusException as exc:
        body = exc.resp_body
        return exc.status_code, json.loads(body) if body else None
    client.close()
    raise AssertionError("the handshake was accepted")
