"""POST /api/v1/notifications on the fast lane (notifier.lane): the integrator's hot path.

The lane answers the common publish: an admin's bearer token, a JSON body that validates,
sent now, without an ``Idempotency-Key``. It runs the same steps as the Flask view
(:func:`notifier.api.notifications.create_notification`) in an app context instead of a
request context: the token (cached), the body's 400/422 rules, the publish rate limit in
Flask-Limiter's own counters, the recipients, ``notify()``. Everything else is handed to Flask
before anything is counted or stored, so Flask words every refusal: no or another credential
(401/403), a member's token, a body that does not parse or validate, ``send_at``,
``Idempotency-Key``, a query string.

Once the limit is counted, the lane answers itself: 429 as the limiter would, a
``ServiceError`` (an unknown recipient) with the API's error body. A database error before
the transaction's commit hands the request to Flask, whose retry and 503 rules apply (nothing
was stored: ``before_commit`` had not run); after it, a 500, as Flask would answer.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from typing import Any

from flask import Flask
from limits import RateLimitItem, parse_many

from notifier import limits as rate_limits
from notifier.api import notifications
from notifier.api.lane_auth import bearer_token, token_caller
from notifier.api.request import parse_document
from notifier.extensions import db
from notifier.lane import Call, FastLane
from notifier.responses import error_response
from notifier.service import notify as notify_svc
from notifier.service import recipients as recipients_svc
from notifier.service.errors import ServiceError

log = logging.getLogger("notifier.api")

PATH = "/api/v1/notifications"
# Flask-Limiter's scope for the view's limit (the endpoint): the same counters either way.
SCOPE = "api.create_notification"


def install(lane: FastLane) -> None:
    """Put the publish route on ``lane``."""
    lane.route("POST", PATH, publish)


def publish(call: Call) -> Any:
    """Publish now for an admin token, or return None to let Flask answer the request."""
    env = call.environ
    if env.get("QUERY_STRING") or "HTTP_IDEMPOTENCY_KEY" in env:
        return None
    token = bearer_token(call.header("HTTP_AUTHORIZATION"))
    if token is None or env.get("CONTENT_TYPE", "").partition(";")[0].strip() != "application/json":
        return None
    app = call.app
    raw = call.read_body(int(app.config["MAX_CONTENT_LENGTH"]))
    if raw is None:
        return None
    with app.app_context():
        try:
            user = token_caller(token)
        except Exception:  # noqa: BLE001 - a full pool, a lost database: Flask's rules answer
            db.session.rollback()
            return None
        if user is None or not user.is_admin:
            return None
        try:
            doc = parse_document(raw)
            if doc.get("send_at") is not None:  # scheduling: Flask's view
                return None
            spec, content = notifications.parse_publish(doc)
        except ServiceError:
            db.session.rollback()
            return None
        try:
            refused = _over_limit(call, app, token)
        except Exception:  # noqa: BLE001 - the limiter's store is down: Flask-Limiter falls back
            db.session.rollback()
            return None
        if refused is not None:
            return refused
        committing = False

        def before_commit(_result: notify_svc.NotifyResult) -> None:
            nonlocal committing
            committing = True

        try:
            group = recipients_svc.audience(user.tenant_id, spec)
            result = notify_svc.notify(
                group.tenant_id, content, group, sender_id=user.user_id, before_commit=before_commit
            )
        except ServiceError as exc:
            db.session.rollback()
            return _flask_answer(
                call, error_response(exc.status, exc.message, code=exc.code, fields=exc.fields)
            )
        except Exception:
            db.session.rollback()
            if not committing:
                return None  # nothing stored: Flask runs it again with its retry rules
            log.exception("publish failed after its commit began")
            return _flask_answer(call, error_response(500, "internal server error"))
        body, status = notifications.publish_answer(spec, content, result)
        return call.json(status, (app.json.dumps(body) + "\n").encode())


def _over_limit(call: Call, app: Flask, token: str) -> Any:
    """Count the publish in Flask-Limiter's counters; return the 429 answer when over."""
    st: rate_limits.LimitState | None = app.extensions.get(rate_limits.EXTENSION)
    if st is None or not st.limiter.enabled:
        return None
    ext = st.limiter
    args = [ext._key_prefix, "token:" + rate_limits._digest(token), SCOPE]  # noqa: SLF001
    for item in _items(str(app.config["NOTIFIER_RATE_LIMIT_PUBLISH"])):
        strategy = ext.limiter
        if not strategy.hit(item, *args):
            reset = strategy.get_window_stats(item, *args).reset_time
            retry = max(1, math.ceil(reset - time.time()))
            return _flask_answer(
                call,
                error_response(
                    429,
                    f"rate limit exceeded: {item}",
                    code="rate_limited",
                    headers={"Retry-After": str(retry)},
                ),
            )
    return None


@functools.lru_cache(maxsize=8)
def _items(rate: str) -> list[RateLimitItem]:
    """Return the limits of ``rate`` in Flask-Limiter's order (parsing cost 4 % of a publish)."""
    return sorted(parse_many(rate))


def _flask_answer(call: Call, resp: Any) -> list[bytes]:
    """Send a Flask response built in the app context through the lane (headers, metrics)."""
    skip = ("Content-Type", "Content-Length")
    headers = [(k, v) for k, v in resp.headers.items() if k not in skip]
    return call.json(resp.status_code, resp.get_data(), headers)
