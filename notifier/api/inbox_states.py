"""Inbox state routes (CONTRACT §9): seen, archive, unarchive, snooze, seen-all, archive-all."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from notifier.api import bp
from notifier.api.contract import parse, validate
from notifier.api.contract_states import ArchiveAllRequest, SnoozeRequest
from notifier.api.inbox_args import group_arg
from notifier.api.request import json_body
from notifier.auth import api_auth
from notifier.service import inbox, states
from notifier.service.content import parse_time
from notifier.service.errors import ValidationError
from notifier.service.serialize import notification_dict


def _group(notification_id: int) -> list[int]:
    """Return the ids a change applies to: with ?group=true, the whole group the item heads."""
    if group_arg():
        return states.group_ids(g.user, notification_id)
    inbox.get(g.user, notification_id)  # 404 for anyone else's
    return [notification_id]


def _one(notification_id: int) -> Any:
    return jsonify(notification_dict(inbox.get(g.user, notification_id)))


@bp.post("/notifications/<int:notification_id>/seen")
@api_auth()
def mark_seen(notification_id: int) -> Any:
    """Mark one notification seen; 200 with the item."""
    states.mark_seen(g.user, _group(notification_id))
    return _one(notification_id)


@bp.post("/notifications/<int:notification_id>/archive")
@api_auth()
def archive(notification_id: int) -> Any:
    """Archive one notification (?group=true: its whole group); 200 with the item."""
    states.archive(g.user, _group(notification_id))
    return _one(notification_id)


@bp.post("/notifications/<int:notification_id>/unarchive")
@api_auth()
def unarchive(notification_id: int) -> Any:
    """Bring one archived notification back to the inbox; 200 with the item."""
    states.unarchive(g.user, _group(notification_id))
    return _one(notification_id)


@bp.post("/notifications/<int:notification_id>/snooze")
@api_auth()
def snooze(notification_id: int) -> Any:
    """Hide one notification until ``until`` (within 30 days); 200 with the item."""
    until = parse_time(parse(SnoozeRequest, "bad snooze time").until)
    if until is None:
        raise ValidationError(
            "bad snooze time", fields={"until": "an ISO 8601 time after now, within 30 days"}
        )
    return jsonify(notification_dict(states.snooze(g.user, notification_id, until)))


@bp.post("/notifications/seen-all")
@api_auth()
def seen_all() -> Any:
    """Mark every notification of the caller seen."""
    return jsonify({"updated": states.seen_all(g.user)})


@bp.post("/notifications/archive-all")
@api_auth()
def archive_all() -> Any:
    """Archive every notification in the inbox, or with {status: "read"} only the read ones."""
    status = validate(ArchiveAllRequest, json_body(allow_empty=True), "bad status").status
    return jsonify({"updated": states.archive_all(g.user, status)})
