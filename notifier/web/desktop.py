"""Desktop alerts' server side: the page stores its Web Push subscription here.

The page reads the VAPID key from ``GET /api/v1/push/vapid-public-key`` (the API takes the
session cookie for reads) but cannot POST to ``/api/v1/push/subscriptions`` with it (the API
takes cookies for reads only); this CSRF-protected route calls the same service instead.
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask_login import current_user, login_required

from notifier.service import ValidationError
from notifier.service import push as push_svc
from notifier.web import bp


@bp.post("/push/subscription")
@login_required
def push_subscription() -> Any:
    """Store this browser's ``PushSubscription.toJSON()`` for the signed-in user; 201 {id}."""
    doc = request.get_json(silent=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
        abort(400)
    keys = doc["keys"]
    try:
        row = push_svc.subscribe(
            current_user, doc.get("endpoint"), keys.get("p256dh"), keys.get("auth")
        )
    except ValidationError as exc:
        return jsonify(
            {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
        ), 422
    return jsonify({"id": row.id}), 201
