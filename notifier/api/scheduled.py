"""Scheduled-send routes (admin): list the tenant's pending and failed sends, cancel one."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from notifier.api import bp
from notifier.api.request import limit_arg
from notifier.auth import api_auth
from notifier.models import ScheduledNotification
from notifier.service import inbox, scheduled
from notifier.service.errors import ValidationError


@bp.get("/scheduled")
@api_auth(admin=True)
def list_scheduled() -> Any:
    """List pending and failed scheduled sends (``?status=`` one of them), oldest first."""
    status = request.args.get("status")
    if status is not None and status not in scheduled.LISTED:
        raise ValidationError("invalid status", fields={"status": "scheduled or failed"})
    limit = limit_arg()
    after = inbox.parse_before(request.args.get("after"), ScheduledNotification.id)
    rows, nxt = scheduled.list_for(g.user.tenant_id, status=status, limit=limit, after=after)
    return jsonify({"items": [scheduled.scheduled_dict(r) for r in rows], "next": nxt})


@bp.delete("/scheduled/<int:scheduled_id>")
@api_auth(admin=True)
def cancel_scheduled(scheduled_id: int) -> Any:
    """Cancel a send before it goes out; 404 for another tenant's, 409 once sent."""
    scheduled.cancel(g.user.tenant_id, scheduled_id)
    return "", 204
