"""OpenAPI paths and schemas of publishing, the inbox and the stream."""

from __future__ import annotations

from typing import Any

from notifier.api.openapi_common import (
    ADMIN,
    AUTH,
    BEFORE,
    BODY,
    INTEGER,
    LIMIT,
    NO_CONTENT,
    NULLABLE_TIME,
    STRING,
    TIME,
    array,
    id_param,
    json_response,
    obj,
    op,
    param,
    ref,
)
from notifier.api.openapi_fields import (
    LINK,
    NOTIFICATION_ID,
    SEND_AT,
    TAG_PATTERN,
    TYPE,
    USER_ID,
    not_blank,
    nullable,
)
from notifier.api.openapi_inboxux import ACTIONS
from notifier.models import PRIORITIES
from notifier.service.content import ALL_CHANNELS

PRIORITY = {"enum": list(PRIORITIES)}
NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Notification": obj(
        {
            "id": INTEGER,
            "type": STRING,
            "title": STRING,
            "body": STRING,
            "priority": PRIORITY,
            "entity_type": NULLABLE_STRING,
            "entity_id": NULLABLE_STRING,
            "url": NULLABLE_STRING,
            "tags": array(STRING),
            "created_at": TIME,
            "is_read": {"type": "boolean"},
            "read_at": NULLABLE_TIME,
            "actions": array(ref("Action")),
        },
        (
            "id",
            "type",
            "title",
            "body",
            "priority",
            "entity_type",
            "entity_id",
            "url",
            "tags",
            "created_at",
            "is_read",
            "read_at",
        ),
    ),
    "PublishRequest": {
        **obj(
            {
                "user_id": nullable(USER_ID),
                "email": {"type": ["string", "null"], "format": "email"},
                "user_ids": nullable(array(USER_ID, minItems=1, maxItems=10000)),
                "tenant": {"enum": [True, None]},
                "type": TYPE,
                "title": not_blank(200, "at most 200 characters, not only whitespace"),
                "body": {"type": ["string", "null"], "maxLength": 10000},
                "priority": {**PRIORITY, "default": "normal"},
                "entity_type": {"type": ["string", "null"], "maxLength": 64},
                "entity_id": {
                    "type": ["string", "integer", "null"],
                    "maxLength": 128,
                    "description": "stored as a string",
                },
                "url": LINK,
                "tags": nullable(array({"type": "string", "pattern": TAG_PATTERN}, maxItems=10)),
                "channels": nullable(array({"enum": list(ALL_CHANNELS)}, minItems=1)),
                "send_at": SEND_AT,
                "actions": ACTIONS,
            },
            ("type", "title"),
            additionalProperties=False,
            description="Exactly one recipient: user_id, email, user_ids or tenant: true (422 "
            "otherwise; null is the same as left out). Unknown fields are refused (422).",
        ),
        # Each branch holds when its field is present and not null: exactly one may.
        "oneOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
            for name in ("user_id", "email", "user_ids", "tenant")
        ],
    },
    "NotifyResult": obj(
        {
            "success": {"type": "boolean"},
            "channels": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "errors": {"type": "object", "additionalProperties": STRING},
        },
        ("success", "channels", "errors"),
    ),
    "PublishedOne": obj(
        {
            "notification": {
                "oneOf": [ref("Notification"), {"type": "null"}],
                "description": "null when the recipient's preferences keep it out of the inbox",
            },
            "result": ref("NotifyResult"),
        },
        ("notification", "result"),
    ),
    "PublishedMany": obj(
        {
            "count": {"type": "integer", "description": "inbox notifications created"},
            "recipients": INTEGER,
            "ids": array(INTEGER),
            "result": ref("NotifyResult"),
        },
        ("count", "ids", "result"),
    ),
    "Scheduled": obj(
        {
            "scheduled": obj({"id": INTEGER, "send_at": TIME}, ("id", "send_at")),
            "result": ref("NotifyResult"),
        },
        ("scheduled", "result"),
    ),
    "NotificationPage": obj(
        {
            "items": array(ref("Notification")),
            "unread": INTEGER,
            "total": INTEGER,
            "next": {
                "type": ["string", "null"],
                "description": "pass as ?before= for the next page; null on the last",
            },
            "cursor": {
                "type": "integer",
                "description": "the caller's event cursor this page was read at: open the "
                "stream with ?after=<cursor> (or Last-Event-ID) to miss nothing since",
            },
        },
        ("items", "unread", "total", "next", "cursor"),
    ),
    "Stats": obj({k: INTEGER for k in ("total", "unread", "read")}, ("total", "unread", "read")),
    "BulkRequest": obj(
        {
            "action": {"enum": ["read", "unread", "delete"]},
            "ids": array(NOTIFICATION_ID, maxItems=1000),
        },
        ("action", "ids"),
        additionalProperties=False,
    ),
    "BulkResult": obj(
        {
            "updated": INTEGER,
            "not_found": array(INTEGER, description="missing ids and ids of other users"),
        },
        ("updated", "not_found"),
    ),
    "Updated": obj({"updated": INTEGER}, ("updated",)),
}

NID = id_param("notification_id")
ONE = {"200": json_response("Notification")}
IDEMPOTENCY_KEY = param(
    "Idempotency-Key",
    "header",
    not_blank(255),
    "Same key and body within 24 h: the first answer again (Idempotent-Replayed: true); same "
    "key with another body: 409 idempotency_conflict. Scoped to the calling user.",
)
PUBLISHED = {
    "description": "Sent. One recipient (user_id or email): PublishedOne; a list or the tenant: "
    "PublishedMany, even when it holds one user.",
    "content": {
        "application/json": {"schema": {"oneOf": [ref("PublishedOne"), ref("PublishedMany")]}}
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/notifications": {
        "post": op(
            "Publish a notification",
            "notifications",
            {"201": PUBLISHED, "202": json_response("Scheduled", "send_at is in the future.")},
            errors=f"{ADMIN} {BODY} 409 429",
            body="PublishRequest",
            params=(IDEMPOTENCY_KEY,),
            description="Admins publish to users of their own tenant; anyone else is 422 "
            "unknown_recipient. Rate limited per calling user (NOTIFIER_RATE_LIMIT_PUBLISH).",
        ),
        "get": op(
            "List the caller's notifications, newest first",
            "notifications",
            {"200": json_response("NotificationPage")},
            errors=f"{AUTH} 400 422",
            params=(
                param(
                    "status",
                    schema={"enum": ["unread", "read", "all"], "default": "all"},
                    empty_ok=True,
                ),
                param("type", description="exact type", empty_ok=True),
                param("tag", description="exact tag (ci does not match cicd)", empty_ok=True),
                LIMIT,
                BEFORE,
            ),
        ),
    },
    "/api/v1/notifications/stats": {
        "get": op(
            "Count the caller's notifications", "notifications", {"200": json_response("Stats")}
        ),
    },
    "/api/v1/notifications/read-all": {
        "post": op("Mark all read", "notifications", {"200": json_response("Updated")}),
    },
    "/api/v1/notifications/bulk": {
        "post": op(
            "Read, unread or delete many notifications",
            "notifications",
            {"200": json_response("BulkResult")},
            errors=f"{AUTH} {BODY}",
            body="BulkRequest",
        ),
    },
    "/api/v1/notifications/{notification_id}": {
        "get": op("Get one notification", "notifications", ONE, errors="401 404", params=(NID,)),
        "delete": op(
            "Delete one notification", "notifications", NO_CONTENT, errors="401 404", params=(NID,)
        ),
    },
    "/api/v1/notifications/{notification_id}/read": {
        method: op("Mark one read", "notifications", ONE, errors="401 404", params=(NID,))
        for method in ("post", "put")
    },
    "/api/v1/notifications/{notification_id}/unread": {
        "post": op("Mark one unread", "notifications", ONE, errors="401 404", params=(NID,)),
    },
}
