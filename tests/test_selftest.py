"""Proxy self-test (issue 8.12): direct, through a buffering proxy, through an idle-cutting one.

The proxies are real sockets in this process: ``buffer`` holds what the upstream sends until
4 KiB have piled up or the upstream closes (what nginx does with proxy_buffering on and a busy
upstream); ``idle`` forwards at once but cuts a connection silent for ``idle`` seconds (nginx's
proxy_read_timeout, a load balancer's idle timeout).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress

import pytest
from flask import Flask
from sqlalchemy import select

from notifier import create_app
from notifier.extensions import db
from notifier.models import ApiToken, Notification
from tests.fixtures_live import ROOT, LiveServer

HOLD = 4096


class Proxy:
    """A TCP proxy on 127.0.0.1 that buffers or cuts idle connections, one thread per side."""

    def __init__(self, upstream_port: int, *, buffer: bool = False, idle: float | None = None):
        self.upstream_port = upstream_port
        self.buffer = buffer
        self.idle = idle
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.cut = 0  # connections cut for idleness
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._up, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket) -> None:
        with suppress(OSError):
            while data := client.recv(65536):
                upstream.sendall(data)
        with suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _down(self, upstream: socket.socket, client: socket.socket) -> None:
        held = b""
        upstream.settimeout(self.idle)
        try:
            while True:
                try:
                    data = upstream.recv(65536)
                except TimeoutError:
                    self.cut += 1
                    break
                if not data:
                    break
                if self.buffer:
                    held += data
                    if len(held) >= HOLD:
                        client.sendall(held)
                        held = b""
                else:
                    client.sendall(data)
            if held:
                client.sendall(held)
        except OSError:
            pass
        for s in (client, upstream):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        """Stop accepting."""
        self.listener.close()


@pytest.fixture
def proxies() -> Iterator[Callable[..., Proxy]]:
    """Make proxies; all are closed at teardown."""
    made: list[Proxy] = []

    def make(port: int, **kw: object) -> Proxy:
        made.append(Proxy(port, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for p in made:
        p.close()


def selftest(server: LiveServer, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `flask --app app selftest URL` against the server's database and config."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "selftest", url, *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def field(out: str, name: str) -> str:
    """Return the value of one report line (``  name:   value``)."""
    match = re.search(rf"^\s+{re.escape(name)}:\s+(.*)$", out, re.M)
    assert match, out
    return match.group(1)


def test_direct_stream_is_unbuffered_with_a_quick_first_byte(live_server: LiveServer) -> None:
    """Against `python app.py` itself: first byte and the test event come at once; exit 0."""
    out = selftest(live_server, live_server.url, "--idle-bound", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert field(out.stdout, "buffered") == "no"
    ttfb = re.match(
        r"(\d+) ms \(headers\), (\d+) ms \(first event\)", field(out.stdout, "time to first byte")
    )
    assert ttfb and int(ttfb.group(2)) < 2000, out.stdout
    assert field(out.stdout, "idle cut-off").startswith("none within")
    assert "result: OK" in out.stdout
    # The test notification is deleted (from the inbox) again, and the temporary token revoked.
    app = site_app(live_server)
    with app.app_context():
        left = db.session.scalars(
            select(Notification).where(Notification.title.like("Notifier self-test%"))
        ).all()
        assert left and all(n.deleted_at is not None for n in left)  # not in the admin's inbox
        tokens = db.session.scalars(select(ApiToken).where(ApiToken.name == "selftest")).all()
        assert tokens and all(t.revoked_at is not None for t in tokens)
        db.engine.dispose()


def site_app(server: LiveServer, **extra: object) -> Flask:
    """An in-process app on the live server's database (the admin page's side of the test)."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": server.env["SECRET_KEY"],
            "DATABASE_URL": server.env["DATABASE_URL"],
            "NOTIFIER_TESTING_FAST_HASH": True,
            "WTF_CSRF_ENABLED": False,
            "NOTIFIER_BASE_URL": server.url,
            **extra,
        }
    )


def test_admin_button_runs_the_self_test_against_the_public_url(live_server: LiveServer) -> None:
    """/admin shows the button; posting it reports on NOTIFIER_BASE_URL; members get 404."""
    app = site_app(live_server)
    client = app.test_client()
    client.post("/login", data={"email": "admin@example.com", "password": "admin-demo-pass"})
    page = client.get("/admin")
    assert page.status_code == 200
    assert b'id="selftest"' in page.data and b"Run self-test" in page.data
    resp = client.post("/admin/selftest", data={"idle_bound": "1"})
    assert resp.status_code == 200, resp.data
    html = resp.get_data(as_text=True)
    assert live_server.url in html
    assert 'data-key="buffered">no<' in html
    assert "No problems found." in html
    bad = client.post("/admin/selftest", data={"idle_bound": "999"})
    assert bad.status_code == 422 and "Hold for 0 to 50 seconds." in bad.get_data(as_text=True)
    member = app.test_client()
    member.post("/login", data={"email": "alice@example.com", "password": "alice-demo-pass"})
    assert member.post("/admin/selftest", data={"idle_bound": "1"}).status_code == 404
    with app.app_context():
        db.engine.dispose()


def test_buffering_proxy_is_reported_with_the_fixes(
    live_server: LiveServer, proxies: Callable[..., Proxy]
) -> None:
    """Through a proxy that holds 4 KiB: buffered, exit 1, and the nginx/Caddy/CDN advice."""
    proxy = proxies(live_server.port, buffer=True)
    out = selftest(live_server, proxy.url, "--idle-bound", "3", "--event-timeout", "3")
    assert out.returncode == 1, out.stdout + out.stderr
    assert field(out.stdout, "buffered") == "yes"
    assert "problem: events are buffered" in out.stdout
    assert "proxy_buffering off" in out.stdout
    assert "flush_interval -1" in out.stdout
    assert "Cloudflare" in out.stdout


def test_idle_cut_off_below_the_ping_interval_is_reported(
    live_server: LiveServer, proxies: Callable[..., Proxy]
) -> None:
    """A proxy cutting after 2 s of silence, pings every 25 s: cut-off found, ping warning."""
    proxy = proxies(live_server.port, idle=2.0)
    out = selftest(live_server, proxy.url, "--idle-bound", "20")
    assert out.returncode == 1, out.stdout + out.stderr
    assert field(out.stdout, "buffered") == "no"
    cut = re.match(r"([\d.]+) s of silence", field(out.stdout, "idle cut-off"))
    assert cut and 1.5 <= float(cut.group(1)) <= 4, out.stdout
    assert "NOTIFIER_PING_INTERVAL (25 s) is not below the idle cut-off" in out.stdout
    assert "proxy_read_timeout" in out.stdout
    assert proxy.cut >= 1
