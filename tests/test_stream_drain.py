"""A restarting process drains (issue 8 item 4): no new streams, no reused keep-alives, exit 0.

Before, SIGTERM ended the open streams but the process kept serving what arrived on keep-alive
connections, new streams included, until the graceful timeout killed them (clients cut twice;
the gunicorn arbiter SIGKILLed the workers). Now, once draining starts:

* a stream request still in flight gets 503 with ``Retry-After``, the JSON error body and
  ``Connection: close``;
* a keep-alive connection idle between requests is closed at once;
* each open stream ends once, with a ``retry:`` in the jitter range (2–5 s);
* the process exits 0 well inside its timeout.

Run against `python app.py` and gunicorn (one worker, SIGTERM), and a gunicorn reload (two
workers, SIGHUP) under resuming clients: nothing lost or duplicated, each cut once.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures_live import LiveServer
from tests.fixtures_nginx import NginxProxy
from tests.fixtures_redis import RedisServer
from tests.sse_client import SSEClient, bearer, publish, token_for

ALICE = "alice@example.com"
STREAM = "/api/v1/notifications/stream"
RETRY_RANGE = (2000, 5000)  # notifier.stream.wire: RETRY_BASE_MS + [0, RETRY_JITTER_MS]
CLIENTS = 30
Factory = Callable[..., LiveServer]


def connect(server: LiveServer, data: bytes = b"", timeout: float = 10) -> socket.socket:
    """Open a client socket to ``server`` and send ``data``."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    if data:
        sock.sendall(data)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response with a Content-Length body; return (status, headers, body)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response head: {raw!r}"
        raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside the body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes (True) or the socket timeout passes (False)."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def request(path: str, token: str, *, end: bool = True) -> bytes:
    """A keep-alive GET; without ``end`` the blank line that ends the headers is held back."""
    head = f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
    return (head + ("\r\n" if end else "")).encode()


@pytest.mark.parametrize("gunicorn_workers", [0, 1], ids=["app.py", "gunicorn"])
def test_sigterm_drains_refuses_new_streams_and_exits_0(
    live_server_factory: Factory, gunicorn_workers: int
) -> None:
    env = {"NOTIFIER_MAX_CONNECTIONS_PER_USER": "20"}
    if gunicorn_workers:
        # gunicorn bounds even a first request by --keep-alive (2 s by default); the held-back
        # request below must outlive the SIGTERM. Graceful timeout: 3 s (tests/fixtures_live).
        env["GUNICORN_CMD_ARGS"] = "--keep-alive 10"
    server = live_server_factory(env, seed=True, gunicorn_workers=gunicorn_workers)
    alice = token_for(server, ALICE)
    assert server.proc is not None

    streams = [SSEClient(server.url, headers=bearer(alice)) for _ in range(3)]
    assert all(s.status == 200 and s.wait_event("stats", timeout=15) for s in streams)
    for s in streams:
        s.retry = None  # forget the preamble's hint: the farewell must bring its own
    # A keep-alive connection that served one request and now idles, as a proxy keeps them.
    idle = connect(server, request("/api/v1/me", alice))
    assert read_response(idle)[0] == 200
    # A stream request whose headers are not finished yet: it is in flight when the drain starts.
    late = connect(server, request(STREAM, alice, end=False))
    time.sleep(0.3)  # let the server read what was sent (it waits for the blank line)

    server.proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        for s in streams:
            assert s.wait_for(lambda c: c.eof, timeout=10), "stream not ended by the drain"
            assert s.retry is not None and RETRY_RANGE[0] <= s.retry <= RETRY_RANGE[1]
            assert s.connections == 1 and not s.read(0.1)  # ended once, nothing after EOF
        ended = time.monotonic() - signalled
        idle.settimeout(1.5)  # closed at the drain, not by the kill at the stop timeout
        assert closed_by_server(idle), "an idle keep-alive connection stayed open"

        late.sendall(b"\r\n")
        status, headers, body = read_response(late)
        assert status == 503, body
        assert 1 <= int(headers["retry-after"]) <= 5
        assert headers["connection"].lower() == "close"
        assert json.loads(body)["error"]["code"] == "draining"
        late.settimeout(5)
        assert closed_by_server(late)

        code = server.proc.wait(timeout=6)
        took = time.monotonic() - signalled
        print(f"[drain] streams ended {ended:.2f}s, exit {code} {took:.2f}s after SIGTERM")
        assert code == 0
        log = server.log()
        if gunicorn_workers:
            assert "Worker draining" in log and "Worker exiting" in log
            assert "SIGKILL" not in log and "graceful timeout" not in log
        else:
            assert "Notifier draining: ended 3 streams" in log and "Notifier stopped" in log
    finally:
        for s in streams:
            s.close()
        idle.close()
        late.close()


@dataclass
class Resuming:
    """An EventSource-like client: on EOF wait ``retry:`` ms, then resume with Last-Event-ID."""

    url: str
    token: str
    client: SSEClient = field(init=False)
    cuts: int = 0  # streams that ended (each should end with a retry hint)
    clean: int = 0  # of those, ended with a fresh retry hint
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, Retry-After)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = SSEClient(self.url, headers=bearer(self.token), connect=False)

    def run(self, stop: threading.Event) -> None:
        c = self.client
        while not stop.is_set():
            opened = len(c.named("connected"))
            try:
                # As long as a browser would wait: after a SIGHUP on a loaded machine the new
                # workers can take over 20 s to accept, and a connection meanwhile waits in
                # the listen backlog (10 s cut such a client off: "no response head").
                c.connect(timeout=45)
            except OSError as exc:
                self.errors.append(repr(exc))
                stop.wait(0.5)
                continue
            if c.status != 200:
                retry_after = c.response_headers.get("retry-after", "")
                self.refused.append((c.status, retry_after))
                c.close()
                stop.wait(float(retry_after or 1))
                continue
            c.wait_for(
                lambda c, n=opened: len(c.named("connected")) > n or stop.is_set(), timeout=10
            )
            c.retry = None  # the preamble's hint is parsed by now: the farewell brings its own
            while not stop.is_set() and not c.eof:
                c.read(0.5)
            if stop.is_set():
                break
            self.cuts += 1
            self.clean += c.retry is not None
            stop.wait((c.retry or 3000) / 1000)  # what a browser does with `retry:`
        c.close()


def test_sighup_reload_behind_nginx_cuts_each_stream_once_and_loses_nothing(
    live_server_factory: Factory, redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    server = live_server_factory(
        {
            "REDIS_URL": redis_url,
            "NOTIFIER_MAX_CONNECTIONS_PER_USER": "100",
            "GUNICORN_CMD_ARGS": "--keep-alive 5",  # as docs/deployment.md §3
        },
        seed=True,
        gunicorn_workers=2,
    )
    admin, alice = token_for(server, "admin@example.com"), token_for(server, ALICE)
    assert server.proc is not None
    proxy = NginxProxy(tmp_path / "nginx", server.port).start()
    try:
        reload_behind(proxy, server, admin, alice)
    finally:
        proxy.stop()


def reload_behind(proxy: NginxProxy, server: LiveServer, admin: str, alice: str) -> None:
    """Stream to CLIENTS resuming clients through ``proxy``, SIGHUP gunicorn, check each one."""
    assert server.proc is not None
    clients = [Resuming(proxy.url, alice) for _ in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    sent = 0
    try:
        deadline = time.monotonic() + 30
        while not all(c.client.last_event_id for c in clients) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(c.client.last_event_id == "4" for c in clients)  # all connected
        for _ in range(10):
            assert publish(proxy.url, admin, ALICE, f"before {sent}") == 201
            sent += 1
        server.proc.send_signal(signal.SIGHUP)  # new workers boot, the old ones drain
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sent < 30:
            status = publish(proxy.url, admin, ALICE, f"during {sent}")
            assert status == 201, status
            sent += 1
            time.sleep(0.2)
        expected = list(range(5, 5 + sent))
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not all(
            sorted(set(c.client.logged_ids)) == expected and c.client.connections >= 2
            for c in clients
        ):
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    refused = [r for c in clients for r in c.refused]
    counts = [c.client.counts() for c in clients]
    print(
        f"[reload] clients={len(clients)} sent={sent} "
        f"cuts={[c.cuts for c in clients]} clean={sum(c.clean for c in clients)} "
        f"refused={refused} dup={sum(x['duplicates'] for x in counts)} "
        f"out_of_order={sum(x['backwards'] for x in counts)}"
    )
    for c in clients:
        assert not c.errors, c.errors
        assert c.client.logged_ids == expected  # nothing lost, duplicated or reordered
        assert c.cuts == 1 and c.clean == 1  # cut once, with a retry hint
        assert c.client.connections == 2 + len(c.refused)
    assert all(status == 503 and retry_after for status, retry_after in refused)
    log = server.log()
    assert log.count("Worker drained") >= 2 and "SIGKILL" not in log
    assert "graceful timeout" not in log  # the old workers emptied their pools themselves
