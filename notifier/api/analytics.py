"""Analytics (admin, own tenant) and the caller's learned active hours (CONTRACT §10)."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from notifier.api import bp
from notifier.api.inbox_args import time_arg
from notifier.auth import api_auth
from notifier.service import active_hours, analytics
from notifier.service.errors import ValidationError
from notifier.service.preferences import TYPE_RE


def query_args(tenant_id: int) -> analytics.Query:
    """Read since, until, by, type and channel; one 422 naming every bad one."""
    args = request.args
    errors: dict[str, str] = {}
    since, until = time_arg("since", errors), time_arg("until", errors)
    by = args.get("by") or "type"
    if by not in analytics.BY:
        errors["by"] = "must be one of " + ", ".join(analytics.BY)
    channel = args.get("channel") or None
    if channel is not None and channel not in analytics.CHANNELS:
        errors["channel"] = "must be one of " + ", ".join(analytics.CHANNELS)
    ntype = args.get("type") or None
    if ntype is not None and not TYPE_RE.fullmatch(ntype):
        errors["type"] = "must be 1-64 letters, digits or _ . : -"
    # Only a window the caller wrote both ends of can be backwards; a since in the future
    # with no until is a window that has nothing in it yet, not a mistake.
    if since is not None and until is not None and since > until:
        errors["since"] = "must not be after until"
    if errors:
        raise ValidationError("bad analytics arguments", fields=errors)
    since, until = analytics.window(since, until)
    return analytics.Query(tenant_id, since, until, by=(by,), type=ntype, channel=channel)


@bp.get("/analytics")
@api_auth(admin=True)
def get_analytics() -> Any:
    """Return the tenant's message outcomes grouped by type, channel, variant or day."""
    return jsonify({"rows": analytics.rows(query_args(g.user.tenant_id))})


@bp.get("/me/active-hours")
@api_auth()
def get_active_hours() -> Any:
    """Return the caller's learned 24-hour activity histogram."""
    return jsonify(active_hours.profile(g.user))
