"""The contract of the delivery channels clients manage: webhooks and Web Push."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from notifier.api.contract import Body, Reply, operation
from notifier.api.fields import AuthSecret, P256dh, PushEndpoint, Time, TypeName, WebhookUrl
from notifier.api.openapi_common import ADMIN, AUTH, BODY, NO_CONTENT, id_param
from notifier.service.webhooks import MAX_WEBHOOK_TYPES

Types = Annotated[
    list[TypeName] | None,
    Field(
        max_length=MAX_WEBHOOK_TYPES,
        description="only these notification types; null, empty or left out: every type",
    ),
]


class NewWebhook(Body):
    url: WebhookUrl
    types: Types = None


class Webhook(Reply):
    id: int
    url: str
    types: Types
    created_at: Time


class CreatedWebhook(Webhook):
    secret: Annotated[str, Field(description="HMAC signing secret; shown once")]


class WebhookList(Reply):
    items: list[Webhook]


class VapidKey(Reply):
    key: str


class PushKeys(Body):
    p256dh: P256dh
    auth: AuthSecret


class PushSubscription(Body):
    """What the browser's PushSubscription.toJSON() returns."""

    endpoint: PushEndpoint
    keys: PushKeys
    expirationTime: Annotated[  # noqa: N815 - the browser's name
        Any, Field(description="accepted and ignored, whatever its value")
    ] = None


class Created(Reply):
    id: int


operation(
    "post",
    "/api/v1/webhooks",
    "Register a webhook endpoint for the tenant",
    "webhooks",
    body=NewWebhook,
    responses={"201": (CreatedWebhook, "Created")},
    errors=f"{ADMIN} {BODY}",
    description="Loopback and private addresses are refused (422) unless "
    "NOTIFIER_WEBHOOK_ALLOW_PRIVATE=1.",
)
operation(
    "get",
    "/api/v1/webhooks",
    "List the tenant's webhook endpoints (no secrets)",
    "webhooks",
    responses={"200": WebhookList},
    errors=ADMIN,
)
operation(
    "delete",
    "/api/v1/webhooks/{webhook_id}",
    "Retire a webhook endpoint",
    "webhooks",
    responses=NO_CONTENT,
    errors=f"{ADMIN} 404",
    params=(id_param("webhook_id"),),
)
operation(
    "get",
    "/api/v1/push/vapid-public-key",
    "Get the VAPID public key for pushManager.subscribe",
    "push",
    responses={"200": VapidKey},
    errors="401 404",
    description="404 when Web Push is not configured on this server.",
)
operation(
    "post",
    "/api/v1/push/subscriptions",
    "Store the caller's browser push subscription",
    "push",
    body=PushSubscription,
    responses={"201": (Created, "Created")},
    errors=f"{AUTH} {BODY}",
)
operation(
    "delete",
    "/api/v1/push/subscriptions/{subscription_id}",
    "Delete one of the caller's push subscriptions",
    "push",
    responses=NO_CONTENT,
    errors="401 404",
    params=(id_param("subscription_id"),),
)
