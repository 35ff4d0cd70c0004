"""What an idle or slow client can hold of `python app.py` (CONTRACT §8), over real sockets.

Each test starts its own server (tests/fixtures_live.py) with small timeouts set through the
environment, so the bounds show within seconds: partial requests and idle keep-alive
connections are closed, sockets over NOTIFIER_MAX_CONNECTIONS + 100 are refused at once, and a
running stream is never cut by either timeout.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.fixtures_live import LiveServer
from tests.sse_client import SSEClient, bearer, publish, token_for

Factory = Callable[..., LiveServer]
ALICE = "alice@example.com"
PARTIAL = b"GET / HTTP/1.1\r\nHost: x\r\n"  # the headers never end


def connect(server: LiveServer, data: bytes = b"", timeout: float = 15) -> socket.socket:
    """Open a client socket to ``server`` and send ``data``."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    if data:
        sock.sendall(data)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes (True) or the socket timeout passes (False)."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Read one HTTP response with a Content-Length; return (status, body)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        data = sock.recv(65536)
        assert data, f"connection closed after {raw!r}"
        raw += data
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = dict(
        line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
    )
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        data = sock.recv(65536)
        assert data, "connection closed inside the body"
        body += data
    return int(head.split()[1]), body


def healthz(server: LiveServer) -> int:
    """GET /healthz on a new connection; return the status (0 when refused or reset)."""
    try:
        with connect(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10) as sock:
            return read_response(sock)[0]
    except (ConnectionResetError, AssertionError):
        return 0


def wait_until(predicate: Callable[[], bool], timeout: float = 20) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def sockets(server: LiveServer, count: int, data: bytes = b"") -> Iterator[list[socket.socket]]:
    """Hold ``count`` client sockets open; close them all on the way out."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            held.append(connect(server, data))
        yield held
    finally:
        for sock in held:
            sock.close()


def test_partial_requests_are_closed_after_the_header_timeout(live_server_factory: Factory) -> None:
    server = live_server_factory({"NOTIFIER_HEADER_TIMEOUT": "1"})
    with sockets(server, 50, PARTIAL) as held:
        assert healthz(server) == 200  # 50 half-sent requests do not block anyone else
        assert all(closed_by_server(sock) for sock in held)
    assert healthz(server) == 200


def test_a_header_trickle_does_not_extend_the_deadline(live_server_factory: Factory) -> None:
    server = live_server_factory({"NOTIFIER_HEADER_TIMEOUT": "1"})
    with connect(server, b"GET / HTTP/1.1\r\n") as sock:
        sent = 0
        try:
            # One header byte every 0.1 s: each arrives well inside any per-read timeout.
            for sent in range(1, 200):  # noqa: B007 - reported below
                sock.sendall(b"X")
                time.sleep(0.1)  # pacing the slow client, not waiting for the server
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 199, "the server kept reading a header that never ends"
        assert closed_by_server(sock)


def test_idle_keepalive_connections_are_closed(live_server_factory: Factory) -> None:
    server = live_server_factory(
        {"NOTIFIER_KEEPALIVE_TIMEOUT": "1", "NOTIFIER_HEADER_TIMEOUT": "60"}
    )
    with connect(server) as sock:
        for _ in range(3):  # keep-alive still works between requests
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock)[0] == 200
        assert closed_by_server(sock)  # then the idle connection is closed, not held


def test_sockets_over_the_cap_are_refused_at_once(live_server_factory: Factory) -> None:
    # 5 stream slots + 100 for everything else; the held sockets never time out here.
    server = live_server_factory(
        {"NOTIFIER_MAX_CONNECTIONS": "5", "NOTIFIER_HEADER_TIMEOUT": "600"}
    )
    with sockets(server, 105) as held:
        # Wait until the server has accepted all 105 (they arrive through the listen backlog).
        assert wait_until(lambda: healthz(server) == 503)
        for _ in range(5):
            with connect(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5) as sock:
                status, body = read_response(sock)  # within 5 s: the header timeout is 600 s
                assert status == 503
                assert json.loads(body)["error"]["code"] == "unavailable"
                assert closed_by_server(sock)
        assert len(held) == 105
    assert wait_until(lambda: healthz(server) == 200)


def test_a_stream_outlives_both_timeouts_while_idle_sockets_close(
    live_server_factory: Factory,
) -> None:
    server = live_server_factory(
        {
            "NOTIFIER_HEADER_TIMEOUT": "1",
            "NOTIFIER_KEEPALIVE_TIMEOUT": "1",
            "NOTIFIER_PING_INTERVAL": "1",
        },
        seed=True,
    )
    admin, alice = token_for(server, "admin@example.com"), token_for(server, ALICE)
    client = SSEClient(server.url, headers=bearer(alice))
    try:
        assert client.status == 200 and client.wait_event("stats", timeout=15)
        with connect(server, PARTIAL) as idle:
            assert closed_by_server(idle)
        # Several timeouts' worth of pings later the stream is still open and delivering.
        assert client.wait_for(lambda c: len(c.named("ping")) >= 4, timeout=20)
        assert publish(server.url, admin, ALICE, "after the timeouts") == 201
        assert client.wait_logged(1, timeout=15)
        assert not client.eof
    finally:
        client.close()
