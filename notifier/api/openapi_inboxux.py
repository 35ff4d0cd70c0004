"""OpenAPI paths and schemas of action buttons (CONTRACT §9)."""

from __future__ import annotations

from typing import Any

from notifier.api.openapi_common import json_response, obj, op, param, ref
from notifier.api.openapi_fields import LINK, NOTIFICATION_ID, TAG_PATTERN, not_blank
from notifier.service.content import ACTION_STYLES, MAX_ACTIONS

ACTION = {
    **obj(
        {
            "id": {"type": "string", "pattern": TAG_PATTERN},
            "label": not_blank(40, "1 to 40 characters, not only whitespace"),
            "url": {**LINK, "type": "string", "minLength": 1},
            "style": {"enum": list(ACTION_STYLES)},
            "callback": {"type": "boolean"},
        },
        ("id", "label"),
        additionalProperties=False,
        description="A link (url), a server-side action (callback: true, a signed POST to the "
        "tenant's webhooks subscribed to type `action`), or both. Ids should be unique: a "
        "click names the first with its id.",
    ),
    "anyOf": [
        {"required": ["url"]},
        {"required": ["callback"], "properties": {"callback": {"const": True}}},
    ],
}
#: The publish request's ``actions`` field and the notification's.
ACTIONS = {
    "type": ["array", "null"],
    "items": ref("Action"),
    "maxItems": MAX_ACTIONS,
    "description": "up to 3 buttons; the first is primary unless it says otherwise",
}

SCHEMAS: dict[str, Any] = {
    "Action": ACTION,
    "ActionClicked": obj(
        {"notification": ref("Notification"), "action": ref("Action")},
        ("notification", "action"),
    ),
}

PATHS: dict[str, Any] = {
    "/api/v1/notifications/{notification_id}/actions/{action_id}": {
        "post": op(
            "Click an action: records it, marks the item read, runs its callback",
            "notifications",
            {"200": json_response("ActionClicked")},
            errors="401 404",
            params=(
                param("notification_id", "path", NOTIFICATION_ID),
                param("action_id", "path", {"type": "string"}),
            ),
            description="Owner only (others' notifications and unknown actions: 404).",
        )
    }
}
