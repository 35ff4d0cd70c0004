"""Provide real SMTP and HTTP receivers for tests that deliver through external channels.

A pytest plugin (``pytest_plugins = ["tests.fixtures_receivers"]``). Both servers listen on
127.0.0.1 on a port the OS picks and record what crossed the wire: the HTTP one in a
background thread (a greenlet: the test process is gevent-patched, see conftest.py), the SMTP
one in a subprocess of its own (tests/smtp_child.py).

``smtp_server`` (:class:`SmtpServer`): aiosmtpd without TLS; ``config()`` gives matching
NOTIFIER_SMTP_* settings. ``messages`` holds :class:`ReceivedMail`; ``fail("451 4.3.0 Later",
at="rcpt", times=1)`` refuses at RCPT or DATA; ``require_login(user, password)`` checks AUTH;
``freeze("ann@example.test")`` leaves DATA unanswered for mail to her (or to anyone) until
``thaw()``, like a hung server, and counts those sessions (``frozen_now``, ``max_frozen``).

``http_receiver`` (:class:`HttpReceiver`): ``requests`` holds :class:`ReceivedRequest`;
``script(503, 200, retry_after=7)`` queues answers, then ``default`` (200) follows; ``url("/h")``.

Both record before they answer, so once a synchronous send returns the record is there; code
that sends from another thread or greenlet calls ``wait_for(n)``.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

import pytest

WAIT_TIMEOUT = 5.0
#: How long the SMTP server process may take to answer a command (generous: a loaded CI box).
ACK_TIMEOUT = 30.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on (for "connection refused")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Recording:
    """What a receiver got, oldest first, guarded by a condition senders can wait on."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def _record(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[Any]:
        """Block until ``count`` items arrived (for senders in other threads or greenlets)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= count, timeout):
                raise AssertionError(f"expected {count} received, got {len(self._items)}")
            return list(self._items)


@dataclass
class ReceivedMail:
    """One message accepted by the SMTP server."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class SmtpServer(_Recording):
    """A real SMTP server on 127.0.0.1 that records what it receives.

    aiosmtpd runs in its own process (tests/smtp_child.py): its asyncio thread would be a
    greenlet in this gevent-patched one. A reader greenlet turns the child's event lines into
    the records below; every read of them first round-trips a ``sync``, so what the server
    did before a synchronous send returned is there when the test looks.
    """

    def __init__(self) -> None:
        super().__init__()
        self.host = "127.0.0.1"
        self.port = 0  # Known once started.
        self._logins: list[tuple[str, str]] = []
        self.frozen_count = 0
        self.max_frozen = 0
        self._acks: dict[int, threading.Event] = {}
        self._ids = itertools.count(1)
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        """Start the server process and wait until it listens."""
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("smtp_child.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        ready = json.loads(self._proc.stdout.readline() or "{}")
        if ready.get("event") != "ready":
            self._proc.kill()
            raise RuntimeError(f"SMTP receiver did not start (exit {self._proc.wait()})")
        self.port = int(ready["port"])
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """Stop the server process (closing its stdin ends it) and the reader."""
        if self._proc is None:
            return
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            event = json.loads(line)
            kind = event["event"]
            if kind == "mail":
                raw = base64.b64decode(event["raw"])
                # SMTP lines end in CRLF; parse with LF so tests compare text as it was written.
                message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
                assert isinstance(message, EmailMessage)
                self._record(ReceivedMail(event["mail_from"], event["rcpt_tos"], raw, message))
            elif kind == "login":
                with self._cond:
                    self._logins.append((event["user"], event["password"]))
            elif kind == "frozen":
                with self._cond:
                    self.frozen_count = int(event["now"])
                    self.max_frozen = max(self.max_frozen, self.frozen_count)
                    self._cond.notify_all()
            elif kind == "ack":
                self._acks.pop(int(event["id"])).set()

    def _call(self, op: str, **fields: Any) -> None:
        """Send one command and wait until the server applied it (and reported all before)."""
        assert self._proc is not None and self._proc.stdin is not None
        ident = next(self._ids)
        done = self._acks[ident] = threading.Event()
        self._proc.stdin.write(json.dumps({"op": op, "id": ident, **fields}) + "\n")
        self._proc.stdin.flush()
        if not done.wait(ACK_TIMEOUT):
            raise AssertionError(f"SMTP receiver did not answer {op!r}")

    @property
    def messages(self) -> list[ReceivedMail]:
        """Return the messages received so far, oldest first."""
        self._call("sync")
        return list(self._items)

    @property
    def logins(self) -> list[tuple[str, str]]:
        """Return the (user, password) pairs of every AUTH attempt so far."""
        self._call("sync")
        return list(self._logins)

    @property
    def frozen_now(self) -> int:
        """Return how many sessions the server holds frozen right now."""
        self._call("sync")
        return self.frozen_count

    def fail(
        self, reply: str, at: Literal["rcpt", "data"] = "data", times: int | None = None
    ) -> None:
        """Answer RCPT TO or DATA with ``reply`` (e.g. ``"550 5.1.1 No such user"``).

        ``times`` limits it to the next N attempts, after which mail is accepted again.
        """
        self._call("fail", reply=reply, at=at, times=times)

    def freeze(self, *recipients: str) -> None:
        """Answer nothing after DATA for mail to ``recipients`` (every mail when none given)."""
        self._call("freeze", recipients=list(recipients))

    def thaw(self) -> None:
        """Answer again; held sessions whose client is still there go on."""
        self._call("thaw")

    def wait_frozen(self, count: int, timeout: float = WAIT_TIMEOUT) -> None:
        """Block until ``count`` sessions are held frozen at the same time."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.frozen_count >= count, timeout):
                raise AssertionError(f"expected {count} frozen sessions, got {self.frozen_count}")

    def require_login(self, user: str, password: str) -> None:
        """Accept AUTH only with these credentials (any are accepted otherwise)."""
        self._call("require_login", user=user, password=password)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """Return NOTIFIER_SMTP_* settings pointing at this server, plus ``overrides``."""
        return {
            "NOTIFIER_SMTP_HOST": self.host,
            "NOTIFIER_SMTP_PORT": self.port,
            "NOTIFIER_SMTP_TLS": "none",
            "NOTIFIER_SMTP_FROM": "Notifier <notifier@example.test>",
            **overrides,
        }


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Yield a running :class:`SmtpServer`; stopped after the test."""
    server = SmtpServer()
    server.start()
    yield server  # pytest runs the teardown below whether or not the test failed.
    server.stop()


@dataclass
class ReceivedRequest:
    """One request as the HTTP receiver saw it."""

    method: str
    path: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """Return the body parsed as an urlencoded form (last value wins)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _HttpHandler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        receiver._record(ReceivedRequest(self.command, self.path, self.headers, body))
        reply = receiver._next_reply()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: pytest output is for failures."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: HttpReceiver


class HttpReceiver(_Recording):
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script."""

    def __init__(self) -> None:
        super().__init__()
        self.default = Reply(200)
        self._script: list[Reply] = []
        self._server = _Server(("127.0.0.1", 0), _HttpHandler)
        self._server.receiver = self
        self.host = "127.0.0.1"
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def url(self, path: str = "/") -> str:
        """Return an absolute URL on this receiver."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Return the requests received so far, oldest first."""
        return list(self._items)

    def script(self, *replies: int | Reply, retry_after: int | str | None = None) -> None:
        """Queue answers in order; ``retry_after`` is added to every 429 and 5xx among them."""
        queued = []
        for item in replies:
            reply = item if isinstance(item, Reply) else Reply(item)
            if retry_after is not None and (reply.status == 429 or reply.status >= 500):
                headers = {**reply.headers, "Retry-After": str(retry_after)}
                reply = Reply(reply.status, headers, reply.body)
            queued.append(reply)
        with self._cond:
            self._script.extend(queued)

    def _next_reply(self) -> Reply:
        with self._cond:
            return self._script.pop(0) if self._script else self.default


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    """Yield a running :class:`HttpReceiver`; stopped after the test."""
    receiver = HttpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
