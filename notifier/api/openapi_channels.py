"""OpenAPI paths and schemas of the delivery channels clients manage: webhooks and Web Push."""

from __future__ import annotations

from typing import Any

from notifier.api.openapi_common import (
    ADMIN,
    AUTH,
    BODY,
    INTEGER,
    NO_CONTENT,
    STRING,
    TIME,
    array,
    id_param,
    json_response,
    obj,
    op,
    ref,
)
from notifier.api.openapi_fields import AUTH_SECRET, P256DH, PUSH_ENDPOINT, TYPE, WEBHOOK_URL
from notifier.service.webhooks import MAX_WEBHOOK_TYPES

TYPES = {
    "type": ["array", "null"],
    "items": TYPE,
    "maxItems": MAX_WEBHOOK_TYPES,
    "description": "only these notification types; null, empty or left out: every type",
}

SCHEMAS: dict[str, Any] = {
    "NewWebhook": obj(
        {"url": WEBHOOK_URL, "types": TYPES},
        ("url",),
        additionalProperties=False,
    ),
    "Webhook": obj(
        {"id": INTEGER, "url": STRING, "types": TYPES, "created_at": TIME},
        ("id", "url", "types", "created_at"),
    ),
    "CreatedWebhook": {
        "allOf": [
            ref("Webhook"),
            obj(
                {"secret": {"type": "string", "description": "HMAC signing secret; shown once"}},
                ("secret",),
            ),
        ]
    },
    "WebhookList": obj({"items": array(ref("Webhook"))}, ("items",)),
    "VapidKey": obj({"key": STRING}, ("key",)),
    "PushSubscription": obj(
        {
            "endpoint": PUSH_ENDPOINT,
            "keys": obj(
                {"p256dh": P256DH, "auth": AUTH_SECRET},
                ("p256dh", "auth"),
                additionalProperties=False,
            ),
            "expirationTime": {"description": "accepted and ignored, whatever its value"},
        },
        ("endpoint", "keys"),
        additionalProperties=False,
        description="What the browser's PushSubscription.toJSON() returns.",
    ),
    "Created": obj({"id": INTEGER}, ("id",)),
}

PATHS: dict[str, Any] = {
    "/api/v1/webhooks": {
        "post": op(
            "Register a webhook endpoint for the tenant",
            "webhooks",
            {"201": json_response("CreatedWebhook", "Created")},
            errors=f"{ADMIN} {BODY}",
            body="NewWebhook",
            description="Loopback and private addresses are refused (422) unless "
            "NOTIFIER_WEBHOOK_ALLOW_PRIVATE=1.",
        ),
        "get": op(
            "List the tenant's webhook endpoints (no secrets)",
            "webhooks",
            {"200": json_response("WebhookList")},
            errors=ADMIN,
        ),
    },
    "/api/v1/webhooks/{webhook_id}": {
        "delete": op(
            "Retire a webhook endpoint",
            "webhooks",
            NO_CONTENT,
            errors=f"{ADMIN} 404",
            params=(id_param("webhook_id"),),
        ),
    },
    "/api/v1/push/vapid-public-key": {
        "get": op(
            "Get the VAPID public key for pushManager.subscribe",
            "push",
            {"200": json_response("VapidKey")},
            errors="401 404",
            description="404 when Web Push is not configured on this server.",
        ),
    },
    "/api/v1/push/subscriptions": {
        "post": op(
            "Store the caller's browser push subscription",
            "push",
            {"201": json_response("Created", "Created")},
            errors=f"{AUTH} {BODY}",
            body="PushSubscription",
        ),
    },
    "/api/v1/push/subscriptions/{subscription_id}": {
        "delete": op(
            "Delete one of the caller's push subscriptions",
            "push",
            NO_CONTENT,
            errors="401 404",
            params=(id_param("subscription_id"),),
        ),
    },
}
