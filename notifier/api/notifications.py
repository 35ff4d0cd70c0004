"""Notification routes: publish (admin), and the caller's inbox: list, read, mark, delete."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from notifier.api import bp
from notifier.api.contract import parse, validate
from notifier.api.contract_inbox import BulkRequest, PublishRequest
from notifier.api.idempotency import answer_in_commit, claim, idempotent
from notifier.api.inbox_args import group_arg, list_filters
from notifier.api.request import json_body, limit_arg
from notifier.auth import api_auth
from notifier.db_retry import retry_safe
from notifier.limits import publish_limit
from notifier.service import inbox, states
from notifier.service import notify as notify_svc
from notifier.service import recipients as recipients_svc
from notifier.service import schedule as schedule_svc
from notifier.service.content import validate_content
from notifier.service.serialize import iso, notification_dict


def parse_publish(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (recipient spec, clean content) or raise one 422 naming every bad field.

    The model checks the request's shape (the document's PublishRequest); validate_content
    then applies the content rules it shares with the admin form and the CLI.
    """
    request_ = validate(PublishRequest, body, "invalid notification")
    return request_.recipient(), validate_content(body)


@bp.post("/notifications")
@retry_safe  # it publishes only after its commit; a lost connection before that is retried
@api_auth(admin=True)
@publish_limit
@idempotent
def create_notification() -> tuple[dict[str, Any], int]:
    """Publish to one recipient, a list of users or the whole tenant, now or at send_at."""
    spec, content = parse_publish(json_body())
    group = recipients_svc.audience(g.user.tenant_id, spec)
    claim()
    answer: answer_in_commit[notify_svc.NotifyResult] = answer_in_commit(
        lambda r: publish_answer(spec, content, r)
    )
    if schedule_svc.later(content):
        result = schedule_svc.schedule(
            group.tenant_id, content, group.ids, g.user.id, before_commit=answer
        )
    else:
        result = notify_svc.notify(
            group.tenant_id, content, group, sender_id=g.user.id, before_commit=answer
        )
    return answer.answer or publish_answer(spec, content, result)


def publish_answer(
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
    limit = limit_arg()
    before = inbox.parse_before(request.args.get("before"))
    page = inbox.list_page(g.user, limit=limit, before=before, filters=list_filters())
    return jsonify(
        {
            "items": page.item_dicts(),
            "unread": page.unread,
            "total": page.total,
            "next": page.next,
            "cursor": page.cursor,
        }
    )


@bp.get("/notifications/stats")
@api_auth()
def notification_stats() -> Any:
    """Return the caller's {total, unread, read, unseen, archived}."""
    return jsonify(inbox.stats(g.user.id))


@bp.post("/notifications/read-all")
@api_auth()
def read_all() -> Any:
    """Mark every unread notification of the caller read."""
    return jsonify({"updated": inbox.read_all(g.user)})


@bp.post("/notifications/bulk")
@api_auth()
def bulk() -> Any:
    """Apply a state change to many ids; others' and missing ids come back not_found."""
    req = parse(BulkRequest, "invalid bulk request")
    updated, not_found = inbox.bulk(g.user, req.action, req.ids)
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
    """Mark one notification read (?group=true: its whole group); 200 with the item."""
    return _mark(notification_id, read=True)


@bp.post("/notifications/<int:notification_id>/unread")
@api_auth()
def mark_unread(notification_id: int) -> Any:
    """Mark one notification unread (?group=true: its whole group); 200 with the item."""
    return _mark(notification_id, read=False)


def _mark(notification_id: int, *, read: bool) -> Any:
    if group_arg():  # reading a collapsed group reads its members
        n = states.apply_to_group(g.user, notification_id, "read" if read else "unread")
    else:
        n = inbox.mark(g.user, notification_id, read=read)
    return jsonify(notification_dict(n))


@bp.delete("/notifications/<int:notification_id>")
@api_auth()
def delete_notification(notification_id: int) -> Any:
    """Delete one notification; 204."""
    inbox.delete(g.user, notification_id)
    return "", 204
