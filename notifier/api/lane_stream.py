"""GET /api/v1/notifications/stream on the fast lane (notifier.lane): the integrator's stream.

The lane opens the common stream: a ``?token=`` stream token minted from an API token, or an
``Authorization: Bearer`` API token; optional ``types``; a resume cursor in ``Last-Event-ID``,
``?last_event_id=`` or ``?after=``; the JSON renderer. It runs the Flask view's steps
(:func:`notifier.api.stream.notifications_stream`) in an app context instead of a request
context, through the same :func:`notifier.stream.connect.open_body`, and answers with the
view's exact headers. The app context (and so the DB session) is gone before the first byte
is streamed, as when the view returns.

Everything else goes to Flask before anything is subscribed, so Flask words every refusal and
serves every other case: no or a bad credential (401), a session or remember cookie (which
the view would try before ``?token=``), an embed token (CORS), a stream token minted from a
sign-in or an embedded inbox, any other query parameter or a repeated one, a value
``clean.bad_chars`` would refuse (the guard's 422), bad ``types`` (422), a hub refusal (429,
503 full or draining: nothing was subscribed), a credential revoked meanwhile (401), a
database error.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask

from notifier.api.lane_auth import bearer_token, token_caller
from notifier.bus.control import Credential
from notifier.bus.hub import TooManyConnections
from notifier.extensions import db
from notifier.lane import API_HEADERS, Call, FastLane
from notifier.service import tokens
from notifier.service.errors import ServiceError
from notifier.stream.connect import CONTENT_TYPE, HEADERS, open_body
from notifier.stream.opening import cursor_from
from notifier.stream.render import JSON
from notifier.stream.types import parse_types

log = logging.getLogger("notifier.api")

PATH = "/api/v1/notifications/stream"
#: The query parameters the view reads; any other one sends the request to Flask.
PARAMS = frozenset({"token", "types", "last_event_id", "after"})
#: The view's response headers, in its order: the stream's own, then the after-request hooks'
#: (notifier.security; Cache-Control is the stream's no-cache, which setdefault keeps; the
#: session's Vary, which Flask adds because the request's hooks read the session).
RESPONSE_HEADERS = [
    *HEADERS.items(),
    ("Content-Type", CONTENT_TYPE),
    *((k, v) for k, v in API_HEADERS if k != "Cache-Control"),
    ("Vary", "Cookie"),
]


def install(lane: FastLane) -> None:
    """Put the stream route on ``lane``."""
    lane.route("GET", PATH, open_json_stream)


def _query(raw: str) -> dict[str, str] | None:
    """Return the query's parameters when the lane may serve them as Flask would, else None."""
    if not raw:
        return {}
    if not raw.isascii():
        return None
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    found: dict[str, str] = {}
    for key, value in pairs:
        # Non-ASCII values are the guard's to judge (a lone surrogate is its 422), NUL too.
        if key not in PARAMS or key in found or not value.isascii() or "\x00" in value:
            return None
        found[key] = value
    return found


def _has_login_cookie(app: Flask, cookies: str) -> bool:
    """Return True when the request may carry a sign-in, which the view tries first."""
    names = (app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME"))
    return any(name and name in cookies for name in names)


def _bearer_caller(header: str) -> tuple[int, int, Credential] | None:
    """Return (user id, tenant id, credential) of a live API token in ``header``, else None."""
    token = bearer_token(header)
    found = token_caller(token) if token is not None else None
    return (found.user_id, found.tenant_id, ("token", found.token_id)) if found else None


def open_json_stream(call: Call) -> Any:
    """Open the caller's JSON stream, or return None to let Flask answer the request."""
    env = call.environ
    args = _query(env.get("QUERY_STRING", ""))
    if args is None:
        return None
    header = env.get("HTTP_AUTHORIZATION")
    token = args.get("token")
    app = call.app
    if not header and (not token or _has_login_cookie(app, env.get("HTTP_COOKIE", ""))):
        return None
    cursor = env.get("HTTP_LAST_EVENT_ID")
    if cursor is not None and (not cursor.isascii() or "\x00" in cursor):
        return None
    try:
        types = parse_types(args.get("types"))
    except ServiceError:
        return None  # the view's 422
    with app.app_context():
        try:
            if header:
                who = _bearer_caller(header)
            else:
                claims = tokens.stream_token_caller(token or "")
                who = (claims.user_id, claims.tenant_id, claims.credential) if claims else None
            if who is None:
                db.session.rollback()
                return None  # Flask's 401 (or a stream token this lane does not serve)
            body = open_body(
                app,
                who[0],
                who[1],
                who[2],
                JSON,
                types,
                raw=cursor_from(cursor, args.get("last_event_id"), args.get("after")),
                user_agent=env.get("HTTP_USER_AGENT", ""),
                environ=env,
            )
        except (TooManyConnections, ServiceError):
            db.session.rollback()
            return None  # nothing subscribed: Flask answers 429/503 or 401 in its words
        except Exception:
            db.session.rollback()
            log.debug("stream open on the lane failed; Flask answers", exc_info=True)
            return None  # a database error: Flask's retry and 503 rules apply
    return call.stream(RESPONSE_HEADERS, body)
