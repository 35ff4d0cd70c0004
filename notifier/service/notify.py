"""Send notifications: resolve recipients, apply preferences, store, log, queue, publish."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select

from notifier.extensions import db
from notifier.models import (
    Delivery,
    Notification,
    Preference,
    PushSubscription,
    User,
    WebhookEndpoint,
    utcnow,
)
from notifier.service import events, integrations
from notifier.service.errors import ValidationError
from notifier.service.preferences import (
    DEFAULTS,
    _merge,
    channel_allowed,
    digest_mode,
    mandatory_types,
    quiet_until,
)
from notifier.service.serialize import iso

DEFAULT_CHANNELS = ("in_app", "email", "push", "sms", "webhook", "chat")
CHUNK = 1000


@dataclass
class NotifyResult:
    """The seeds' per-channel result object plus what was created."""

    channels: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    recipients: int = 0
    scheduled_id: int | None = None

    @property
    def success(self) -> bool:
        """Return True when at least one channel took the notification."""
        return any(self.channels.values())

    def as_dict(self) -> dict[str, Any]:
        """Return ``{success, channels, errors}`` as the API answers it."""
        return {"success": self.success, "channels": self.channels, "errors": self.errors}


def resolve_recipients(tenant_id: int, spec: dict[str, Any]) -> list[int]:
    """Turn {user_id | email | user_ids | tenant: true} into ids of active users of the tenant."""
    base = select(User.id).where(User.tenant_id == tenant_id, User.active.is_(True))
    if spec.get("tenant") is True:
        return list(db.session.scalars(base.order_by(User.id)))
    if spec.get("user_ids") is not None:
        wanted = list(dict.fromkeys(int(i) for i in spec["user_ids"]))
        found: set[int] = set()
        for i in range(0, len(wanted), CHUNK):
            found.update(db.session.scalars(base.where(User.id.in_(wanted[i : i + CHUNK]))))
        unknown = [i for i in wanted if i not in found]
        if unknown:
            raise ValidationError(
                f"unknown recipients: {unknown[:10]}",
                code="unknown_recipient",
                fields={"user_ids": "unknown or not in your tenant"},
            )
        return wanted
    if spec.get("user_id") is not None:
        uid = db.session.scalar(base.where(User.id == int(spec["user_id"])))
        field_name = "user_id"
    elif spec.get("email") is not None:
        uid = db.session.scalar(base.where(User.email == str(spec["email"]).strip().lower()))
        field_name = "email"
    else:
        raise ValidationError(
            "a recipient is required",
            fields={"user_id": "give user_id, email, user_ids or tenant: true"},
        )
    if uid is None:
        raise ValidationError(
            "unknown recipient", code="unknown_recipient", fields={field_name: "unknown recipient"}
        )
    return [uid]


BeforeCommit = Callable[[NotifyResult], None]


def notify(
    tenant_id: int,
    content: dict[str, Any],
    recipients: Sequence[int],
    *,
    sender_id: int | None,
    before_commit: BeforeCommit | None = None,
) -> NotifyResult:
    """Deliver already-validated content to recipients of one tenant; commit, then publish.

    ``before_commit(result)`` runs inside the transaction right before its commit: the API
    stores its idempotent answer there, so the answer commits with the notification.
    """
    if content.get("send_at") and content["send_at"] > utcnow():
        return schedule(tenant_id, content, recipients, sender_id, before_commit=before_commit)
    wanted = content.get("channels") or list(DEFAULT_CHANNELS)
    result = NotifyResult(channels=dict.fromkeys(wanted, False), recipients=len(recipients))
    users, prefs, has_push = _load_recipients(recipients)
    cfg = current_app.config
    now = utcnow()
    inbox_rows: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    tags_text = "," + ",".join(content["tags"]) + "," if content["tags"] else ""
    payload_base = {
        k: content[k]
        for k in ("type", "title", "body", "priority", "entity_type", "entity_id", "url", "tags")
    }
    chat_users: list[int] = []  # recipients whose preferences let chat carry this type
    for uid in recipients:
        user, pref = users[uid], prefs[uid]
        allowed = {
            ch: channel_allowed(pref, content["type"], ch) for ch in wanted if ch != "webhook"
        }
        if allowed.get("chat"):
            chat_users.append(uid)
        if allowed.get("in_app"):
            inbox_rows.append(
                {
                    "tenant_id": tenant_id,
                    "user_id": uid,
                    "type": content["type"],
                    "title": content["title"],
                    "body": content["body"],
                    "priority": content["priority"],
                    "entity_type": content["entity_type"],
                    "entity_id": content["entity_id"],
                    "url": content["url"],
                    "tags_text": tags_text,
                    "created_at": now,
                }
            )
        quiet = None if content["priority"] == "urgent" else quiet_until(pref, now)
        for ch in ("email", "push", "sms"):
            if not allowed.get(ch):
                continue
            problem = _channel_problem(ch, cfg, user, has_push.get(uid, 0))
            if problem:
                result.errors.setdefault(ch, problem)
                continue
            digest = digest_mode(pref, content["type"]) if ch == "email" else "off"
            deliveries.append(
                {
                    "tenant_id": tenant_id,
                    "user_id": uid,
                    "channel": ch,
                    "status": "pending",
                    "payload": payload_base,
                    "digest": None if digest == "off" else digest,
                    "due_at": quiet or now,
                    "created_at": now,
                    "attempts": 0,
                    "webhook_id": None,
                }
            )
            result.channels[ch] = True
        for ch, ok in allowed.items():
            if not ok and ch != "in_app":
                result.errors.setdefault(ch, "disabled by preferences")
    if "in_app" in wanted:
        if inbox_rows:
            result.channels["in_app"] = True
        else:
            result.errors["in_app"] = "disabled by preferences"
    ids = _insert_inbox(inbox_rows)
    # Deliveries point at the inbox row (push tags and digests dedupe on it) when there is one.
    nid_of = {row["user_id"]: nid for row, nid in zip(inbox_rows, ids, strict=True)}
    for d in deliveries:
        d["notification_id"] = nid_of.get(d["user_id"])
    messages = events.append(
        [
            (
                row["user_id"],
                tenant_id,
                "notification",
                {
                    **payload_base,
                    "id": nid,
                    "created_at": iso(now),
                    "is_read": False,
                    "read_at": None,
                },
            )
            for row, nid in zip(inbox_rows, ids, strict=True)
        ]
    )
    result.ids = ids
    result.notifications = [m.data for m in messages[:1]] if len(recipients) == 1 else []
    if "webhook" in wanted:
        _queue_webhooks(
            tenant_id, content["type"], payload_base, ids, recipients, now, deliveries, result
        )
    for i in range(0, len(deliveries), CHUNK):
        db.session.execute(insert(Delivery), deliveries[i : i + CHUNK])
    if "chat" in wanted:
        integrations.queue(tenant_id, content["type"], payload_base, ids, chat_users, now, result)
    if before_commit is not None:
        before_commit(result)
    db.session.commit()
    events.publish(messages)
    return result


def _channel_problem(ch: str, cfg: Any, user: User, push_subs: int) -> str | None:
    if ch == "email" and not cfg.get("NOTIFIER_SMTP_HOST"):
        return "email channel is not configured"
    if ch == "sms":
        if not cfg.get("NOTIFIER_SMS_URL"):
            return "sms channel is not configured"
        if not user.phone:
            return "recipient has no phone number"
    if ch == "push":
        if not cfg.get("NOTIFIER_VAPID_PRIVATE_KEY"):
            return "push channel is not configured"
        if not push_subs:
            return "recipient has no push subscription"
    return None


def _load_recipients(
    recipients: Sequence[int],
) -> tuple[dict[int, User], dict[int, dict[str, Any]], dict[int, int]]:
    users: dict[int, User] = {}
    raw_prefs: dict[int, dict[str, Any]] = {}
    has_push: dict[int, int] = {}
    ids = list(recipients)
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        users.update({u.id: u for u in db.session.scalars(select(User).where(User.id.in_(chunk)))})
        raw_prefs.update(
            db.session.execute(
                select(Preference.user_id, Preference.data).where(Preference.user_id.in_(chunk))
            ).all()
        )
        has_push.update(
            db.session.execute(
                select(PushSubscription.user_id, func.count())
                .where(PushSubscription.user_id.in_(chunk))
                .group_by(PushSubscription.user_id)
            ).all()
        )
    mandatory = mandatory_types()
    prefs = {}
    for uid in ids:
        p = _merge(DEFAULTS, raw_prefs.get(uid) or {})
        for t in mandatory:
            p["types"].setdefault(t, {})["in_app"] = True
        prefs[uid] = p
    return users, prefs, has_push


def _insert_inbox(rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for i in range(0, len(rows), CHUNK):
        res = db.session.execute(
            insert(Notification).returning(Notification.id, sort_by_parameter_order=True),
            rows[i : i + CHUNK],
        )
        ids.extend(int(r[0]) for r in res)
    return ids


def _queue_webhooks(
    tenant_id: int,
    ntype: str,
    payload: dict[str, Any],
    ids: list[int],
    recipients: Sequence[int],
    now: Any,
    deliveries: list[dict[str, Any]],
    result: NotifyResult,
) -> None:
    endpoints = db.session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None)
        )
    ).all()
    matching = [e for e in endpoints if not e.types or ntype in e.types]
    for ep in matching:
        deliveries.append(
            {
                "tenant_id": tenant_id,
                "user_id": None,
                "channel": "webhook",
                "status": "pending",
                "webhook_id": ep.id,
                "notification_id": None,
                "digest": None,
                "payload": {
                    **payload,
                    "notification_ids": ids[:1000],
                    "recipient_ids": list(recipients)[:1000],
                    "recipients": len(recipients),
                },
                "due_at": now,
                "created_at": now,
                "attempts": 0,
            }
        )
    result.channels["webhook"] = bool(matching)
    if not matching:
        result.errors["webhook"] = "no webhook endpoint for this type"


# Re-exported: the scheduler loop and tests call notify.release_due().
from notifier.service.schedule import release_due, schedule  # noqa: E402

__all__ = ["NotifyResult", "notify", "release_due", "resolve_recipients", "schedule"]
