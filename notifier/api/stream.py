"""Stream routes of CONTRACT §5–§6: the JSON SSE stream, its status, connections, and /metrics."""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Response, current_app, g, jsonify, request
from flask.blueprints import BlueprintSetupState

from notifier import metrics, metrics_export
from notifier.api import bp
from notifier.api.errors import error_response
from notifier.api.health import ops
from notifier.auth import api_auth, api_user, credential
from notifier.bus.hub import TooManyConnections
from notifier.extensions import state
from notifier.stream import open_stream
from notifier.stream.render import JSON
from notifier.stream.wire import retry_after_s


@bp.record_once
def _watch(setup: BlueprintSetupState) -> None:
    metrics.init_app(setup.app)


def refusal(exc: TooManyConnections) -> Response:
    """Answer a stream over a limit: 429 (per user) or 503 (per process, draining), Retry-After."""
    if exc.scope == "draining":  # a restart: another process takes it in a few seconds
        return error_response(
            503,
            "this server is restarting; reconnect in a few seconds",
            code="draining",
            headers={"Retry-After": str(retry_after_s())},
        )
    # A closed connection frees its slot within one ping interval + 1 s (CONTRACT §6).
    headers = {"Retry-After": str(int(current_app.config["NOTIFIER_PING_INTERVAL"]) + 1)}
    if exc.scope == "user":
        return error_response(
            429,
            f"at most {exc.limit} stream connections per user",
            code="too_many_connections",
            headers=headers,
        )
    return error_response(
        503,
        "this server holds all the streams it may; retry later",
        code="server_busy",
        headers=headers,
    )


@bp.get("/notifications/stream")
def notifications_stream() -> Any:
    """Stream the caller's events as SSE (bearer header, session cookie or ?token=)."""
    user = api_user(allow_stream_token=True)
    try:
        # The token, stream token's parent or sign-in that opened it: revoking it closes it.
        return open_stream(user, credential(), JSON)
    except TooManyConnections as exc:
        return refusal(exc)


@bp.get("/notifications/stream/status")
@api_auth()
def stream_status() -> Any:
    """Report the bus mode and this process's stream counts, scoped to what the caller may see.

    A member counts their own streams, an admin their tenant's; only admins learn the process
    name (``instance`` is "" for members). Process-wide figures are for operators: /metrics.
    """
    st, user = state(), g.user
    subs = [
        sub
        for sub in st.hub.subscriptions()
        if (sub.tenant_id == user.tenant_id if user.is_admin else sub.user_id == user.id)
    ]
    return jsonify(
        {
            "mode": st.broker.mode,
            "redis_available": st.broker.mode == "redis" and st.broker.available(),
            "active_connections": len(subs),
            # One subscription per connected user: what a per-user channel design would hold.
            "active_subscriptions": len({sub.user_id for sub in subs}),
            "instance": st.instance if user.is_admin else "",
        }
    )


@bp.get("/notifications/stream/connections")
@api_auth()
def stream_connections() -> Any:
    """Count this process's streams: an admin sees its tenant's users, a member its own."""
    user = g.user
    by_user: dict[int, int] = {}
    for sub in state().hub.subscriptions():
        visible = sub.tenant_id == user.tenant_id if user.is_admin else sub.user_id == user.id
        if visible:
            by_user[sub.user_id] = by_user.get(sub.user_id, 0) + 1
    return jsonify(
        {
            "total": sum(by_user.values()),
            "mine": by_user.get(user.id, 0),
            "by_user": {str(uid): n for uid, n in sorted(by_user.items())},
            "instance": state().instance,
        }
    )


def _loopback_client() -> bool:
    """Return True for a direct (not proxied) request from this host."""
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False  # behind a proxy every request looks local; make those use a token
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@ops.get("/metrics")
def prometheus_metrics() -> Any:
    """Expose Prometheus text to an admin token or a loopback client; 403 otherwise."""
    if request.headers.get("Authorization"):
        if not api_user().is_admin:  # a bad token is 401 there
            return error_response(403, "admin role required")
    elif not _loopback_client():
        return error_response(403, "metrics are served to an admin token or a loopback client")
    body, content_type = metrics_export.exposition(current_app)
    return Response(body, content_type=content_type)
