"""Notification routes: publish (admin), and the caller's inbox: list, read, mark, delete."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from notifier.api import bp
from notifier.api.idempotency import answer_in_commit, claim, idempotent
from notifier.api.request import id_list, json_body, limit_arg, reject_unknown
from notifier.auth import api_auth
from notifier.db_retry import retry_safe
from notifier.limits import publish_limit
from notifier.models import User
from notifier.service import clean, inbox
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from notifier.service.errors import ValidationError
from notifier.service.serialize import iso, notification_dict

RECIPIENT_FIELDS = ("user_id", "email", "user_ids", "tenant")
CONTENT_FIELDS = (
    "type",
    "title",
    "body",
    "priority",
    "entity_type",
    "entity_id",
    "url",
    "tags",
    "channels",
    "send_at",
    "actions",
)
MAX_RECIPIENTS = 10_000
STATUSES = ("unread", "read", "all")


def _is_id(value: Any) -> bool:
    """Return True for a positive integer (not a bool) within the range of user ids."""
    return clean.is_id(value, User.id)


def _recipient_spec(body: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """Check that exactly one recipient form is given and well typed; collect problems."""
    given = [f for f in RECIPIENT_FIELDS if body.get(f) is not None]
    if not given:
        errors["user_id"] = "give one of user_id, email, user_ids or tenant: true"
        return {}
    if len(given) > 1:
        for f in given:
            errors[f] = "give exactly one of user_id, email, user_ids or tenant: true"
        return {}
    form = given[0]
    value = body[form]
    if form == "user_id" and not _is_id(value):
        errors[form] = "must be a positive integer"
    elif form == "email" and (not isinstance(value, str) or not value.strip()):
        errors[form] = "must be an email address"
    elif form == "tenant" and value is not True:
        errors[form] = "must be true"
    elif form == "user_ids":
        if not isinstance(value, list) or not value or not all(_is_id(i) for i in value):
            errors[form] = "a non-empty list of user ids"
        elif len(value) > MAX_RECIPIENTS:
            errors[form] = f"at most {MAX_RECIPIENTS} recipients"
    return {form: value}


def _parse_publish(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (recipient spec, clean content) or raise one 422 naming every bad field."""
    reject_unknown(body, RECIPIENT_FIELDS + CONTENT_FIELDS)
    errors: dict[str, str] = {}
    spec = _recipient_spec(body, errors)
    content: dict[str, Any] = {}
    try:
        content = validate_content(body)
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError("invalid notification", fields=errors)
    return spec, content


@bp.post("/notifications")
@retry_safe  # it publishes only after its commit; a lost connection before that is retried
@api_auth(admin=True)
@publish_limit
@idempotent
def create_notification() -> tuple[dict[str, Any], int]:
    """Publish to one recipient, a list of users or the whole tenant, now or at send_at."""
    spec, content = _parse_publish(json_body())
    recipients = notify_svc.resolve_recipients(g.user.tenant_id, spec)
    claim()
    answer = answer_in_commit(lambda r: _answer(spec, content, r))
    result = notify_svc.notify(
        g.user.tenant_id, content, recipients, sender_id=g.user.id, before_commit=answer
    )
    return answer.answer or _answer(spec, content, result)


def _answer(
    spec: dict[str, Any], content: dict[str, Any], result: notify_svc.NotifyResult
) -> tuple[dict[str, Any], int]:
    """Return the publish answer for ``result`` (built before the commit, replayed after)."""
    if result.scheduled_id is not None:
        # Channels are decided when it is sent; accepted for later counts as success now.
        return {
            "scheduled": {"id": result.scheduled_id, "send_at": iso(content["send_at"])},
            "result": {"success": True, "channels": {}, "errors": {}},
        }, 202
    if "user_id" in spec or "email" in spec:
        notification = result.notifications[0] if result.notifications else None
        return {"notification": notification, "result": result.as_dict()}, 201
    return {
        "count": len(result.ids),
        "recipients": result.recipients,
        "ids": result.ids,
        "result": result.as_dict(),
    }, 201


@bp.get("/notifications")
@api_auth()
def list_notifications() -> Any:
    """List the caller's notifications newest first, with counts and the event cursor."""
    status = request.args.get("status") or "all"
    if status not in STATUSES:
        raise ValidationError("bad status", fields={"status": "must be unread, read or all"})
    limit = limit_arg()
    before = inbox.parse_before(request.args.get("before"))
    page = inbox.list_page(
        g.user,
        status=status,
        ntype=request.args.get("type") or None,
        tag=request.args.get("tag") or None,
        limit=limit,
        before=before,
    )
    return jsonify(
        {
            "items": [notification_dict(n) for n in page.items],
            "unread": page.unread,
            "total": page.total,
            "next": page.next,
            "cursor": page.cursor,
        }
    )


@bp.get("/notifications/stats")
@api_auth()
def notification_stats() -> Any:
    """Return the caller's {total, unread, read}."""
    return jsonify(inbox.stats(g.user.id))


@bp.post("/notifications/read-all")
@api_auth()
def read_all() -> Any:
    """Mark every unread notification of the caller read."""
    return jsonify({"updated": inbox.read_all(g.user)})


@bp.post("/notifications/bulk")
@api_auth()
def bulk() -> Any:
    """Apply read, unread or delete to many ids; others' and missing ids come back not_found."""
    body = json_body()
    reject_unknown(body, ("action", "ids"))
    errors: dict[str, str] = {}
    action = body.get("action")
    if action not in inbox.ACTIONS:
        errors["action"] = "must be read, unread or delete"
    try:
        ids = id_list(body.get("ids"))
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError("invalid bulk request", fields=errors)
    updated, not_found = inbox.bulk(g.user, action, ids)
    return jsonify({"updated": updated, "not_found": not_found})


@bp.get("/notifications/<int:notification_id>")
@api_auth()
def get_notification(notification_id: int) -> Any:
    """Return one of the caller's notifications (404 for anyone else's)."""
    return jsonify(notification_dict(inbox.get(g.user, notification_id)))


@bp.post("/notifications/<int:notification_id>/read")
@bp.put("/notifications/<int:notification_id>/read")
@api_auth()
def mark_read(notification_id: int) -> Any:
    """Mark one notification read; 200 with the item."""
    return jsonify(notification_dict(inbox.mark(g.user, notification_id, read=True)))


@bp.post("/notifications/<int:notification_id>/unread")
@api_auth()
def mark_unread(notification_id: int) -> Any:
    """Mark one notification unread; 200 with the item."""
    return jsonify(notification_dict(inbox.mark(g.user, notification_id, read=False)))


@bp.delete("/notifications/<int:notification_id>")
@api_auth()
def delete_notification(notification_id: int) -> Any:
    """Delete one notification; 204."""
    inbox.delete(g.user, notification_id)
    return "", 204
