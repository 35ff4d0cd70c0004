"""Web Push API: the VAPID public key, subscribe and unsubscribe (the worker is in ops.py).

Pages cannot POST here with their session cookie (the API takes cookies for reads only), so
the page side calls ``notifier.service.push.subscribe`` / ``unsubscribe`` from its own
CSRF-protected routes; these routes serve bearer-token clients.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_channels import PushSubscription
from notifier.auth import api_auth
from notifier.service import push as push_svc


@bp.get("/push/vapid-public-key")
@api_auth()
def vapid_public_key() -> Any:
    """Return ``{key}`` for ``pushManager.subscribe``; 404 when web push is not configured."""
    return jsonify({"key": push_svc.vapid_public_key()})


@bp.post("/push/subscriptions")
@api_auth()
def subscribe() -> Any:
    """Store the caller's browser subscription ``{endpoint, keys: {p256dh, auth}}``; 201 {id}.

    Keyed by (caller, endpoint): the same answer whether or not anyone else has that endpoint.
    """
    sub = parse(PushSubscription, "invalid subscription")
    row = push_svc.subscribe(g.user, sub.endpoint, sub.keys.p256dh, sub.keys.auth)
    return jsonify({"id": row.id}), 201


@bp.delete("/push/subscriptions/<int:subscription_id>")
@api_auth()
def unsubscribe(subscription_id: int) -> Any:
    """Delete one of the caller's subscriptions; someone else's is 404."""
    push_svc.unsubscribe(g.user, subscription_id)
    return "", 204
