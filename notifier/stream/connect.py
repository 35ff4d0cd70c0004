"""Open one stream: subscribe FIRST (nothing published from then on can slip by), then read
where it starts and build its :class:`~notifier.stream.session.Stream`.

Two callers: Flask's views (:func:`open_stream`, :func:`subscribe`, :func:`start` read the
User-Agent, the socket and the cursor off ``request``) and the fast lane
(notifier/api/lane_stream.py), which passes the same things as plain values to
:func:`open_body`, in an app context and without a request. Either way the cursor row is read
in the app context's short DB session, released before the first byte is streamed (the view
returns, or the lane's app context pops): the stream itself holds no session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, request

from notifier.auth import Unauthorized
from notifier.bus.control import Credential
from notifier.bus.hub import Hub, Subscription
from notifier.extensions import db, state
from notifier.models import User
from notifier.service import activity, sessions, token_cache
from notifier.stream import conn
from notifier.stream.opening import opening_for, requested_cursor
from notifier.stream.render import SSE_KINDS, Renderer
from notifier.stream.session import Stream
from notifier.stream.types import Types, wanted_rows

CONTENT_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
USER_AGENT_MAX = 200  # characters of the User-Agent a subscription keeps (stream status)


def open_stream(
    user: User, credential: Credential | None, renderer: Renderer, types: Types = None
) -> Response:
    """Subscribe ``user`` and return the streaming response, written by ``renderer``.

    ``credential`` is what authenticated the request; when it dies the stream is closed.
    ``types`` limits the notification events sent (``?types=``, stream/types.py).
    Raises TooManyConnections, or Unauthorized when the credential died meanwhile.
    """
    body = open_body(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        user.id,
        user.tenant_id,
        credential,
        renderer,
        types,
        raw=requested_cursor(),
        user_agent=request.headers.get("User-Agent", ""),
        environ=request.environ,
    )
    # Passed through: the chunks are bytes already, and Werkzeug's encoding generator and
    # closing wrapper would be two more frames in every idle stream's saved greenlet stack.
    # The server iterates the generator itself and calls Body.close, started or not.
    return Response(body, content_type=CONTENT_TYPE, headers=HEADERS, direct_passthrough=True)


def open_body(
    app: Flask,
    user_id: int,
    tenant_id: int,
    credential: Credential | None,
    renderer: Renderer,
    types: Types,
    *,
    raw: str | None,
    user_agent: str,
    environ: dict[str, Any],
) -> Body:
    """Subscribe and start a stream from plain values (in an app context); return its body.

    ``raw`` is the resume cursor as sent (None: a fresh stream), ``environ`` the WSGI
    environ the stream's socket is found in. Raises as :func:`open_stream`.
    """
    hub: Hub = state(app).hub
    sub = subscribe_ids(hub, user_id, tenant_id, credential, renderer.kind, user_agent)
    try:
        stream = start_with(app, hub, sub, raw, renderer, types, environ)
    except BaseException:
        hub.unsubscribe(sub, "error")
        raise
    return Body(stream)


class Body:
    """The WSGI iterable of one stream: iterating it is its generator, closing it frees it."""

    __slots__ = ("_gen", "_stream")

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._gen = stream.run()

    def __iter__(self) -> Iterator[bytes]:
        return self._gen

    def close(self) -> None:
        """End the generator and free the subscription (the response ended, for any reason)."""
        try:
            self._gen.close()
        finally:
            self._stream.close()


def subscribe(user: User, credential: Credential | None, renderer: Renderer) -> Subscription:
    """Subscribe ``user`` in the request, before its cursor is read (nothing can slip by).

    Shared by every transport (SSE here, the WebSocket in api/ws.py). Raises
    TooManyConnections, or Unauthorized when the credential died meanwhile.
    """
    return subscribe_ids(
        state(current_app).hub,
        user.id,
        user.tenant_id,
        credential,
        renderer.kind,
        request.headers.get("User-Agent", ""),
    )


def subscribe_ids(
    hub: Hub,
    user_id: int,
    tenant_id: int,
    credential: Credential | None,
    kind: str,
    user_agent: str,
) -> Subscription:
    """Subscribe ``user_id`` on ``hub`` (in an app context); see :func:`subscribe`."""
    sub = hub.subscribe(
        user_id,
        tenant_id,
        kind=kind,
        user_agent=user_agent[:USER_AGENT_MAX],
        credential=credential,
    )
    try:
        # A parent token the cache holds live was not revoked before subscribe(): its close
        # message would have dropped the entry (service/token_cache.py).
        if credential is not None and not _cached_live(hub, user_id, credential):
            # Revoked between the authentication and subscribe(), its close message found no
            # subscription: check again now that any later one will. The commit ends the
            # read snapshot the authentication ran in (SQLite WAL would still show it live).
            db.session.commit()
            if not sessions.credential_live(user_id, credential):
                raise Unauthorized("the credential was revoked", code="invalid_token")
    except BaseException:
        hub.unsubscribe(sub, "error")
        raise
    return sub


def start(sub: Subscription, raw: str | None, renderer: Renderer, types: Types = None) -> Stream:
    """Read where ``sub``'s stream starts (cursor ``raw`` as sent) and build its Stream."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return start_with(app, state(app).hub, sub, raw, renderer, types, request.environ)


def start_with(
    app: Flask,
    hub: Hub,
    sub: Subscription,
    raw: str | None,
    renderer: Renderer,
    types: Types,
    environ: dict[str, Any],
) -> Stream:
    """Build ``sub``'s Stream from plain values (in an app context); see :func:`start`."""
    opening = opening_for(sub.user_id, raw)
    activity.connected(app, sub.user_id)  # what send-time optimisation learns from
    opening.recent = wanted_rows(opening.recent, types)
    ping = float(app.config["NOTIFIER_PING_INTERVAL"])
    sock = conn.socket_from(environ)
    # A WebSocket transport reads its own socket (and so learns of a close itself).
    watch = hub if renderer.kind in SSE_KINDS else None
    tcp = conn.register(sub, sock, user_timeout_s=2 * ping + 10, hub=watch)
    stream = Stream(app, hub, sub, renderer, opening, ping_interval=ping, tcp=tcp)
    stream.types = types
    return stream


def _cached_live(hub: Hub, user_id: int, credential: Credential) -> bool:
    """Return True when the token cache vouches for ``credential`` (else ask the database)."""
    return credential[0] == "token" and token_cache.for_hub(hub).parent_live(credential[1], user_id)
