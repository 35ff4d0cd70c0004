"""OpenAPI paths and schemas of chat integrations and scheduled sends (admin)."""

from __future__ import annotations

from typing import Any

from notifier.api.openapi_common import (
    ADMIN,
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
)
from notifier.api.openapi_fields import CURSOR_ID, TYPE, WEBHOOK_URL
from notifier.service.webhooks import MAX_WEBHOOK_TYPES

TYPES = {
    "type": ["array", "null"],
    "items": TYPE,
    "maxItems": MAX_WEBHOOK_TYPES,
    "description": "only these notification types; null, empty or left out: every type",
}

CHAT_URL = {
    **WEBHOOK_URL,
    "pattern": str(WEBHOOK_URL["pattern"]).replace("[Hh][Tt][Tt][Pp][Ss]?", "[Hh][Tt][Tt][Pp][Ss]"),
    "description": "the incoming-webhook URL Slack or Discord gave you; https, to a public "
    "host (http and private hosts only with NOTIFIER_WEBHOOK_ALLOW_PRIVATE)",
}
KIND = {"enum": ["slack", "discord"]}
STATUS = {"enum": ["scheduled", "failed"]}

SCHEMAS: dict[str, Any] = {
    "NewIntegration": obj(
        {"kind": KIND, "url": CHAT_URL, "types": TYPES},
        ("kind", "url"),
        additionalProperties=False,
    ),
    "Integration": obj(
        {
            "id": INTEGER,
            "kind": KIND,
            "url": {
                "type": "string",
                "description": "a hint only (scheme, host, last four characters): the URL "
                "is the secret that posts to the channel",
            },
            "types": TYPES,
            "created_at": TIME,
        },
        ("id", "kind", "url", "types", "created_at"),
    ),
    "IntegrationList": obj({"items": array({"$ref": "#/components/schemas/Integration"})}),
    "ScheduledSend": obj(
        {
            "id": INTEGER,
            "status": STATUS,
            "type": STRING,
            "title": STRING,
            "priority": STRING,
            "recipients": INTEGER,
            "send_at": TIME,
            "created_at": TIME,
            "created_by": {"type": ["integer", "null"]},
            "failed_at": NULLABLE_TIME,
            "error": {"type": ["string", "null"]},
        },
        ("id", "status", "type", "title", "recipients", "send_at"),
    ),
    "ScheduledPage": obj(
        {
            "items": array({"$ref": "#/components/schemas/ScheduledSend"}),
            "next": {"type": ["string", "null"]},
        },
        ("items", "next"),
    ),
}

PATHS: dict[str, Any] = {
    "/api/v1/integrations": {
        "post": op(
            "Register a Slack or Discord incoming webhook for the tenant",
            "integrations",
            {"201": json_response("Integration", "Created")},
            errors=f"{ADMIN} {BODY}",
            body="NewIntegration",
            description="Each notification of a matching type (all when `types` is left out) "
            "that a recipient's preferences let the `chat` channel carry is posted once, in "
            "the service's own message format, with webhook retries and dead letters.",
        ),
        "get": op(
            "List the tenant's chat integrations (URLs as hints)",
            "integrations",
            {"200": json_response("IntegrationList")},
            errors=ADMIN,
        ),
    },
    "/api/v1/integrations/{integration_id}": {
        "delete": op(
            "Retire a chat integration",
            "integrations",
            NO_CONTENT,
            errors=f"{ADMIN} 404",
            params=(id_param("integration_id"),),
        ),
    },
    "/api/v1/scheduled": {
        "get": op(
            "List the tenant's pending and failed scheduled sends, oldest first",
            "scheduled",
            {"200": json_response("ScheduledPage")},
            errors=f"{ADMIN} 400 422",
            params=(
                param("status", schema=STATUS, description="only this status"),
                LIMIT,
                param("after", schema=CURSOR_ID, empty_ok=True, description="`next` of a page"),
            ),
        ),
    },
    "/api/v1/scheduled/{scheduled_id}": {
        "delete": op(
            "Cancel a scheduled send before it goes out",
            "scheduled",
            NO_CONTENT,
            errors=f"{ADMIN} 404 409",
            params=(id_param("scheduled_id"),),
        ),
    },
}
