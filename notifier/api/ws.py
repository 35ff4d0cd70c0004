"""The WebSocket stream (CONTRACT §11): GET /api/v1/notifications/ws, a second transport.

It is another consumer of the one stream session (notifier/stream/session.py): the request
authenticates exactly as the SSE stream (bearer header, session cookie, ``?token=``), is
refused before the upgrade over the same connection limits (429/503 with the JSON body), and
subscribes before the cursor is read. After the handshake the stream's bytes come from the
same :class:`~notifier.stream.session.Stream` (subscribe → replay → live, same cursor rules),
rendered by :class:`~notifier.stream.ws_render.WsRenderer` as one JSON line per message.

The library is simple-websocket (wsproto underneath, maintained with flask-sock): it takes the
socket from gevent's pywsgi environ (``python app.py``) and from gunicorn's gevent worker,
and runs its reader as a (patched) thread, i.e. a greenlet. gevent-websocket is unmaintained.

A cookie-authenticated socket must come from our own origin: browsers send cookies on
cross-site WebSocket handshakes and CORS does not apply to them. The first client message
may be ``resume``: the server waits up to OPEN_WAIT for it unless the URL already carries a
cursor (``?after=`` / ``?last_event_id=``); any other first message opens the stream at once.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

import gevent
from flask import Flask, Response, current_app, request
from gevent.lock import Semaphore
from simple_websocket import ConnectionClosed, Server
from wsproto.events import TextMessage

from notifier.api import bp, ws_ops
from notifier.auth import api_user, credential
from notifier.bus.control import CLOSE_REASON
from notifier.bus.hub import Subscription, TooManyConnections
from notifier.extensions import db, state
from notifier.responses import error_response
from notifier.service.errors import ValidationError
from notifier.stream.connect import start, subscribe
from notifier.stream.opening import requested_cursor
from notifier.stream.refusal import refusal
from notifier.stream.session import Stream
from notifier.stream.types import Types, parse_types
from notifier.stream.wire import dumps
from notifier.stream.ws_render import WS

log = logging.getLogger(__name__)

OPEN_WAIT = 0.5  # seconds a fresh socket waits for a first ``resume`` before it opens
MAX_MESSAGE = 64 * 1024  # a client message is a small JSON op
# Close codes by why the subscription ended: restart (reconnect elsewhere), revoked (sign in
# again), too slow (reconnect and resume), else normal.
CLOSE_CODES = {"shutdown": 1012, "draining": 1012, CLOSE_REASON: 4401, "overflow": 1013}


class Socket(Server):
    """simple-websocket's server socket, with whole writes serialised between greenlets.

    Two greenlets write (the stream and the op replies), and ``socket.send`` may write only
    part of a frame; ``sendall`` under a lock keeps every frame whole and in one piece.
    """

    def __init__(self, environ: dict[str, Any], **kwargs: Any) -> None:
        self._send_lock = Semaphore()
        super().__init__(environ, **kwargs)

    def send(self, data: Any) -> None:
        """Send one text message (raises ConnectionClosed once the socket is closed)."""
        with self._send_lock:
            if not self.connected:
                raise ConnectionClosed(self.close_reason, self.close_message)
            self.sock.sendall(self.ws.send(TextMessage(data=str(data))))


def _same_origin() -> bool:
    """Return True when the browser's Origin is this host (a missing Origin is no browser)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.host and parts.scheme in ("http", "https")


def _is_upgrade() -> bool:
    return (
        request.headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("Connection", "").lower()
    )


@bp.get("/notifications/ws")  # a plain GET: 426 after authentication
@bp.get("/notifications/ws", websocket=True, endpoint="notifications_ws_upgrade")
def notifications_ws() -> Any:
    """Upgrade to a WebSocket carrying the caller's events (same auth as the SSE stream)."""
    user = api_user(allow_stream_token=True)
    cred = credential()
    if cred[0] == "session" and not _same_origin():
        msg = "a WebSocket signed in by cookie must come from this site"
        return error_response(403, msg, code="bad_origin")
    types = parse_types(request.args.get("types"))
    if not _is_upgrade():
        msg, upgrade = "this endpoint speaks WebSocket", {"Upgrade": "websocket"}
        return error_response(426, msg, code="upgrade_required", headers=upgrade)
    try:
        sub = subscribe(user, cred, WS)
    except TooManyConnections as exc:
        return refusal(exc)
    return SocketResponse(sub, types)


class SocketResponse(Response):
    """A response that, when the server calls it, runs the WebSocket until it closes."""

    def __init__(self, sub: Subscription, types: Types) -> None:
        super().__init__(status=101)
        self.sub = sub
        self.types = types

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Hand-shake, run the session, close; then tell the server the socket is gone."""
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        hub = state(app).hub
        try:
            ws = Socket(environ, max_message_size=MAX_MESSAGE)
        except Exception:
            hub.unsubscribe(self.sub, "error")
            raise
        try:
            Session(app, ws, self.sub, self.types).run()
        finally:
            hub.unsubscribe(self.sub, "closed")
            with suppress(ConnectionClosed, OSError):
                ws.close(CLOSE_CODES.get(self.sub.close_reason, 1000), self.sub.close_reason[:100])
        if ws.mode == "gunicorn":
            raise StopIteration  # gunicorn's worker: the connection is handled, close it
        # pywsgi: the library wrote through a duplicate; end the original so the server's
        # next read sees EOF and it drops the connection without writing a response.
        with suppress(OSError):
            sock = environ.get("notifier.socket")
            if sock is not None:
                sock.shutdown(2)
        return []


class Session:
    """One WebSocket: the stream greenlet writes, this one reads and answers the client's ops."""

    def __init__(self, app: Flask, ws: Socket, sub: Subscription, types: Types) -> None:
        self.app = app
        self.ws = ws
        self.sub = sub
        self.types = types
        self.stream: Stream | None = None

    def send(self, doc: dict[str, Any]) -> None:
        """Send one reply; a closed socket is noticed by the reader."""
        with suppress(ConnectionClosed, OSError):
            self.ws.send(dumps(doc))

    def run(self) -> None:
        """Open the stream (after an optional first ``resume``), write it, read ops meanwhile."""
        raw = requested_cursor()
        first: dict[str, Any] | None = None
        if raw is None:
            try:
                got = self.ws.receive(timeout=OPEN_WAIT)
            except ConnectionClosed:
                return
            if got is not None:
                try:
                    first = ws_ops.parse(got)
                except ValueError as exc:
                    self.send(ws_ops.error("invalid_message", str(exc)))
                if first is not None and first["op"] == "resume":
                    raw, first = ws_ops.resume_cursor(first), None
                elif first is not None and first["op"] == "subscribe":
                    self._handle(first)  # applied before the opening: ``recent`` is filtered too
                    first = None
        self.stream = stream = start(self.sub, raw, WS, self.types)
        db.session.remove()  # the request's session: ops and replays open their own
        reader = gevent.spawn(self._read, first)
        try:
            for chunk in stream.run():
                for line in chunk.split(b"\n"):
                    if line:
                        self.ws.send(line.decode("utf-8"))
        except (ConnectionClosed, OSError):
            pass
        finally:
            stream.close()
            reader.kill(block=False)

    def _read(self, first: dict[str, Any] | None) -> None:
        """Answer client messages until the socket closes; then end the stream."""
        try:
            if first is not None:
                self._handle(first)
            while True:
                raw = self.ws.receive()
                if raw is None:
                    continue
                try:
                    doc = ws_ops.parse(raw)
                except ValueError as exc:
                    self.send(ws_ops.error("invalid_message", str(exc)))
                    continue
                self._handle(doc)
        except ConnectionClosed:
            pass
        finally:
            state(self.app).hub.unsubscribe(self.sub, "gone")  # wakes the stream to end

    def _handle(self, doc: dict[str, Any]) -> None:
        op = doc["op"]
        try:
            if op == "ping":
                self.send({"event": "pong", "data": {}})
            elif op == "subscribe":
                self.types, reply = ws_ops.subscribed(doc)
                if self.stream is not None:
                    self.stream.types = self.types
                self.send(reply)
            elif op == "resume":
                msg = "resume is only valid as the first message"
                self.send(ws_ops.error("resume_not_first", msg))
            elif op in ws_ops.ACTIONS:
                with self.app.app_context():
                    self.send(ws_ops.act(self.sub.user_id, op, doc))
            else:
                known = list(ws_ops.KNOWN)
                self.send(ws_ops.error("unknown_op", f"unknown op {op[:40]!r}", known=known))
        except ValidationError as exc:
            self.send(ws_ops.error("validation_error", exc.message, fields=exc.fields, op=op))
        except Exception:  # a bug must not kill the socket's reader
            log.exception("ws: op %s failed", op[:40])
            self.send(ws_ops.error("internal_error", "the op failed", op=op))
