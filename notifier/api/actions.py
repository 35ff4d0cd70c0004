"""Action buttons over the API: the owner clicks one of a notification's actions."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from notifier.api import bp
from notifier.auth import api_auth
from notifier.service import actions
from notifier.service.serialize import notification_dict


@bp.post("/notifications/<int:notification_id>/actions/<action_id>")
@api_auth()
def click_action(notification_id: int, action_id: str) -> Any:
    """Record the click, mark the item read, run its callback; 404 for an unknown action."""
    n, action = actions.click(g.user, notification_id, action_id)
    return jsonify({"notification": notification_dict(n), "action": action})
