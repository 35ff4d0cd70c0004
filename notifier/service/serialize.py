"""Turn models into the JSON shapes of CONTRACT §5–§6 (one place, shared by API, SSE, pages)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from notifier.models import ApiToken, Notification, User, WebhookEndpoint
from notifier.timefmt import iso

__all__ = [
    "CONTENT_FIELDS",
    "iso",
    "notification_dict",
    "notification_payload",
    "token_dict",
    "user_dict",
    "webhook_dict",
]


#: The fields a notification's content brings (validate_content's output, a stored row).
CONTENT_FIELDS = ("type", "title", "body", "priority", "entity_type", "entity_id", "url", "tags")


def notification_payload(
    content: Mapping[str, Any],
    *,
    id: int,
    created_at: datetime | None,
    read_at: datetime | None = None,
    seen_at: datetime | None = None,
    archived_at: datetime | None = None,
    snoozed_until: datetime | None = None,
) -> dict[str, Any]:
    """Build the notification JSON the API answers and the `notification` SSE event carries.

    ``notification_dict`` builds it from a stored row; ``notify()`` from the content it has
    just inserted (the same dict, without reading the row back).
    """
    return {
        "id": id,
        "type": content["type"],
        "title": content["title"],
        "body": content["body"] or "",
        "priority": content["priority"],
        "entity_type": content["entity_type"],
        "entity_id": content["entity_id"],
        "url": content["url"],
        "tags": list(content["tags"]),
        "created_at": iso(created_at),
        "is_read": read_at is not None,
        "read_at": iso(read_at),
        "seen_at": iso(seen_at),
        "archived_at": iso(archived_at),
        "snoozed_until": iso(snoozed_until),
        "group_key": content.get("group_key"),
        "actions": list(content.get("actions") or []),
    }


def notification_dict(n: Notification) -> dict[str, Any]:
    """Serialize a stored notification (the API, the `notification` SSE event, the pages)."""
    fields = {k: getattr(n, k) for k in CONTENT_FIELDS}
    fields["group_key"] = n.group_key
    fields["actions"] = n.actions
    return notification_payload(
        fields,
        id=n.id,
        created_at=n.created_at,
        read_at=n.read_at,
        seen_at=n.seen_at,
        archived_at=n.archived_at,
        snoozed_until=n.snoozed_until,
    )


def user_dict(u: User) -> dict[str, Any]:
    """Serialize a user as GET /api/v1/me returns it."""
    return {
        "id": u.id,
        "email": u.email,
        "role": u.role,
        "tenant": u.tenant.name,
        "timezone": u.timezone,
        "phone": u.phone,
        "locale": u.locale or "en",
    }


def token_dict(row: ApiToken) -> dict[str, Any]:
    """Serialize a token without its secret part."""
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "revoked": row.revoked_at is not None,
    }


def webhook_dict(row: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """Serialize a webhook endpoint; the secret only when it was just created."""
    out: dict[str, Any] = {
        "id": row.id,
        "url": row.url,
        "types": row.types,
        "created_at": iso(row.created_at),
    }
    if with_secret:
        out["secret"] = row.secret
    return out
