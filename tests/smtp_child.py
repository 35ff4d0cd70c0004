"""The SMTP receiver's server process: aiosmtpd, steered over stdin, reporting on stdout.

tests/fixtures_receivers.py starts this script with the plain interpreter. aiosmtpd runs an
asyncio loop in a thread, and in the gevent-patched test process every thread is a greenlet
sharing one OS thread (and asyncio's one running loop per OS thread), so the server keeps a
process of its own, where threads are threads.

Protocol, one JSON object per line. Commands on stdin, each answered with
``{"event": "ack", "id": …}`` once applied: ``fail`` (reply, at, times), ``freeze``
(recipients), ``thaw``, ``require_login`` (user, password), ``sync``. Events on stdout, in
the order they happened: ``ready`` (port), ``mail`` (mail_from, rcpt_tos, raw in base64),
``login`` (user, password), ``frozen`` (now). An event is written before the SMTP reply
that follows it, and an ack after every event before it, so a ``sync`` round trip proves
the parent has seen everything the server did so far.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

_out = threading.Lock()


def emit(**event: Any) -> None:
    """Write one event line (from the loop thread or the command thread)."""
    with _out:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class _AnyPortController(Controller):
    """Controller bound to port 0: learn the real port before aiosmtpd's start-up probe."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Handler:
    """aiosmtpd hooks driven by the parent's commands."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failure: tuple[str, str, int | None] | None = None
        self.credentials: tuple[str, str] | None = None
        self.frozen: tuple[str, ...] | None = None  # None: not frozen; (): every recipient.
        self.frozen_now = 0

    def command(self, cmd: dict[str, Any]) -> None:
        """Apply one command from the parent."""
        op = cmd["op"]
        with self.lock:
            if op == "fail":
                self.failure = (cmd["reply"], cmd["at"], cmd["times"])
            elif op == "freeze":
                self.frozen = tuple(cmd["recipients"])
            elif op == "thaw":
                self.frozen = None
            elif op == "require_login":
                self.credentials = (cmd["user"], cmd["password"])

    def _take_failure(self, stage: str) -> str | None:
        with self.lock:
            if self.failure is None or self.failure[1] != stage:
                return None
            reply, at, times = self.failure
            if times is not None:
                self.failure = (reply, at, times - 1) if times > 1 else None
            return reply

    def _frozen_for(self, envelope: Envelope) -> bool:
        with self.lock:
            held = self.frozen
        return held is not None and (not held or bool(set(held) & set(envelope.rcpt_tos)))

    def _count_frozen(self, step: int) -> None:
        with self.lock:
            self.frozen_now += step
            emit(event="frozen", now=self.frozen_now)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        """Accept the recipient unless told to refuse RCPT."""
        if refusal := self._take_failure("rcpt"):
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        """Record the message unless told to refuse DATA; hold it while frozen."""
        if self._frozen_for(envelope):
            self._count_frozen(+1)
            try:
                while self._frozen_for(envelope):
                    await asyncio.sleep(0.02)  # The server's own idle loop, not a test's wait.
            finally:  # the client giving up cancels this task
                self._count_frozen(-1)
        if refusal := self._take_failure("data"):
            return refusal
        raw = bytes(envelope.original_content or envelope.content or b"")
        emit(
            event="mail",
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            raw=base64.b64encode(raw).decode(),
        )
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Record the login; accept it unless credentials are required and differ."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        pair = (data.login.decode(), data.password.decode())
        emit(event="login", user=pair[0], password=pair[1])
        with self.lock:
            ok = self.credentials in (None, pair)
        return AuthResult(success=ok, handled=False)


def main() -> None:
    """Serve until stdin closes (the parent stopped or died)."""
    handler = Handler()
    controller = _AnyPortController(
        handler,
        hostname="127.0.0.1",
        port=0,
        authenticator=handler.authenticate,
        auth_require_tls=False,  # Plain-text AUTH is fine on loopback in tests.
    )
    controller.start()
    emit(event="ready", port=int(controller.port))
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            handler.command(cmd)
            emit(event="ack", id=cmd["id"])
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
