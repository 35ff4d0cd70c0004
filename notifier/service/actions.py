"""Action buttons: record a click, mark the item read, queue the tenant's `action` webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from notifier.extensions import db
from notifier.models import ActionClick, Delivery, Notification, User, WebhookEndpoint, utcnow
from notifier.service import activity, inbox
from notifier.service.errors import NotFound
from notifier.service.serialize import iso

#: The webhook event a `callback: true` click sends; endpoints opt in with the type "action".
ACTION_TYPE = "action"
WEBHOOK_EVENT = "notification.action"


def find(n: Notification, action_id: str) -> dict[str, Any]:
    """Return the notification's action with this id or raise NotFound."""
    for action in n.actions or ():
        if action.get("id") == action_id:
            return dict(action)
    raise NotFound("action not found")


def click(user: User, notification_id: int, action_id: str) -> tuple[Notification, dict[str, Any]]:
    """Record a click on one of the user's notifications; mark it read; run its callback.

    The click row, the webhook deliveries and the read mark commit together (the read mark's
    commit), so a click is never half-stored; the signed POSTs go out through the delivery
    worker: the webhook channel's signing, retries and SSRF guard.
    """
    n = inbox.get(user, notification_id)  # NotFound for other users' ids
    action = find(n, action_id)
    now = utcnow()
    db.session.add(
        ActionClick(
            tenant_id=user.tenant_id,
            user_id=user.id,
            notification_id=n.id,
            action_id=action_id,
            type=n.type,
            clicked_at=now,
        )
    )
    activity.record(user.id, clicks=1, at=now)
    if action.get("callback"):
        _queue_callbacks(user, n.id, action_id, now)
    return inbox.mark(user, n.id, read=True), action


def _queue_callbacks(user: User, nid: int, action_id: str, now: Any) -> int:
    """Add one webhook delivery per endpoint of the tenant subscribed to type `action`."""
    endpoints = db.session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == user.tenant_id, WebhookEndpoint.deleted_at.is_(None)
        )
    ).all()
    # Only endpoints that name the type: one that takes "every type" of notification was
    # built for notification.created bodies, not for this event.
    subscribed = [e for e in endpoints if e.types and ACTION_TYPE in e.types]
    data = {"notification_id": nid, "action_id": action_id, "user_id": user.id, "at": iso(now)}
    rows = [
        {
            "tenant_id": user.tenant_id,
            "user_id": None,
            "channel": "webhook",
            "status": "pending",
            "webhook_id": e.id,
            "notification_id": None,
            "digest": None,
            "payload": {"webhook_event": WEBHOOK_EVENT, "data": data},
            "due_at": now,
            "created_at": now,
            "attempts": 0,
        }
        for e in subscribed
    ]
    if rows:
        db.session.execute(insert(Delivery), rows)
    return len(rows)


def clicks(notification_id: int) -> dict[str, int]:
    """Return {action_id: clicks} for one notification (what the analytics will sum)."""
    rows = db.session.execute(
        select(ActionClick.action_id, func.count())
        .where(ActionClick.notification_id == notification_id)
        .group_by(ActionClick.action_id)
    ).all()
    return {str(a): int(c) for a, c in rows}
