"""Stream routes of CONTRACT §5–§6: the JSON SSE stream, its status and its connections."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from notifier.api import bp
from notifier.auth import api_auth, api_user, credential
from notifier.bus.hub import TooManyConnections
from notifier.extensions import state
from notifier.stream import open_stream
from notifier.stream.refusal import refusal
from notifier.stream.render import JSON
from notifier.stream.types import parse_types


@bp.get("/notifications/stream")
def notifications_stream() -> Any:
    """Stream the caller's events as SSE (bearer header, session cookie or ?token=).

    ``?types=a,b`` sends only those notification types (stats and updates still flow).
    """
    user = api_user(allow_stream_token=True)
    types = parse_types(request.args.get("types"))  # 422 before anything is subscribed
    try:
        # The token, stream token's parent or sign-in that opened it: revoking it closes it.
        return open_stream(user, credential(), JSON, types)
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
