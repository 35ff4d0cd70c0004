"""OpenAPI of the inbox states, groups and search (CONTRACT §9), merged over openapi_inbox.

:func:`extend` adds the new paths and widens the shared schemas and the list's parameters in
place, so this module stays separate from the publishing and inbox documents it builds on.
"""

from __future__ import annotations

import copy
from typing import Any

from notifier.api.contract_inbox import NID
from notifier.api.fields import TIME_PATTERN
from notifier.api.openapi_common import (
    BODY,
    ERRORS,
    INTEGER,
    NULLABLE_TIME,
    STRING,
    json_response,
    obj,
    op,
    param,
)
from notifier.service.search import STATUSES

ONE = {"200": json_response("Notification")}
STATE_FIELDS = {
    "seen_at": NULLABLE_TIME,
    "archived_at": NULLABLE_TIME,
    "snoozed_until": NULLABLE_TIME,
    "group_key": {"type": ["string", "null"]},
}
GROUP = {
    "oneOf": [obj({"key": STRING, "count": INTEGER}, ("key", "count")), {"type": "null"}],
    "description": "only with ?group=true: the group this newest item stands for",
}
STATS = ("total", "unread", "read", "unseen", "archived")
GROUP_ARG = param(
    "group",
    schema={"enum": ["true", "false"]},
    description="true: the change applies to every member of the group the item heads",
    empty_ok=True,
)
#: RFC 3339 in the years parse_time accepts (as publish's send_at).
TIME_ARG = {"type": "string", "format": "date-time", "pattern": TIME_PATTERN}
PRIORITY_ARG = {
    "type": "string",
    "pattern": "^(?:low|normal|high|urgent)(?:,(?:low|normal|high|urgent))*$",
}
LIST_PARAMS = (
    param(
        "q",
        schema={"type": "string", "maxLength": 200},
        empty_ok=True,
        description="words matched against title and body: case-insensitive, each a prefix, "
        "every one must match",
    ),
    param(
        "priority",
        schema=PRIORITY_ARG,
        description="one or more of low, normal, high, urgent, comma-separated",
        empty_ok=True,
    ),
    param("since", schema=TIME_ARG, description="created at or after (ISO 8601)", empty_ok=True),
    param("until", schema=TIME_ARG, description="created at or before (ISO 8601)", empty_ok=True),
    param(
        "group",
        schema={"enum": ["true", "false"], "default": "false"},
        empty_ok=True,
        description="true collapses items sharing a group_key into the newest, with group",
    ),
)
SCHEMAS: dict[str, Any] = {}  # SnoozeRequest and ArchiveAllRequest are contract_inbox models


def _item_op(summary: str, *, body: str | None = None, group: bool = True) -> dict[str, Any]:
    params = (NID, GROUP_ARG) if group else (NID,)
    errors = f"401 404 {BODY}" if body else "401 404 422"
    return op(summary, "notifications", ONE, errors=errors, body=body, params=params)


PATHS: dict[str, Any] = {
    "/api/v1/notifications/{notification_id}/seen": {"post": _item_op("Mark one seen")},
    "/api/v1/notifications/{notification_id}/archive": {"post": _item_op("Archive one")},
    "/api/v1/notifications/{notification_id}/unarchive": {
        "post": _item_op("Bring one back from the archive")
    },
    "/api/v1/notifications/{notification_id}/snooze": {
        "post": _item_op("Hide one until a time", body="SnoozeRequest", group=False)
    },
    "/api/v1/notifications/seen-all": {
        "post": op("Mark all seen", "notifications", {"200": json_response("Updated")}),
    },
    "/api/v1/notifications/archive-all": {
        "post": {
            **op(
                "Archive all (or all read)",
                "notifications",
                {"200": json_response("Updated")},
                errors=f"401 {BODY}",
            ),
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ArchiveAllRequest"}
                    }
                },
            },
        },
    },
}


def extend(doc: dict[str, Any]) -> dict[str, Any]:
    """Add this module's paths and widen the inbox schemas of ``doc``; return it."""
    doc = copy.deepcopy(doc)
    # The state fields, Stats, BulkRequest's actions and group_key are in contract_inbox's
    # models; this module adds the §9 paths and the list's parameters until it is converted.
    doc["components"]["schemas"].update(SCHEMAS)
    listing = doc["paths"]["/api/v1/notifications"]["get"]
    for p in listing["parameters"]:
        if p["name"] == "status":
            p["schema"] = {"enum": list(STATUSES), "default": "all"}
            p["description"] = "all is the inbox: neither archived nor snoozed"
    listing["parameters"] = [*listing["parameters"], *LIST_PARAMS]
    for path in ("read", "unread"):
        for method in doc["paths"][f"/api/v1/notifications/{{notification_id}}/{path}"].values():
            method["parameters"] = [NID, GROUP_ARG]
            method["responses"]["422"] = {"$ref": f"#/components/responses/{ERRORS['422'][0]}"}
    doc["paths"].update(PATHS)
    return doc
