"""Turn models into the JSON shapes of CONTRACT §5–§6 (one place, shared by API, SSE, pages)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from notifier.models import Notification, User


def iso(dt: datetime | None) -> str | None:
    """Format a naive-UTC datetime as ISO 8601 with a Z suffix."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="seconds") + "Z"


def notification_dict(n: Notification) -> dict[str, Any]:
    """Serialize a notification as the API and the `notification` SSE event carry it."""
    return {
        "id": n.id,
        "type": n.type,
        "title": n.title,
        "body": n.body or "",
        "priority": n.priority,
        "entity_type": n.entity_type,
        "entity_id": n.entity_id,
        "url": n.url,
        "tags": n.tags,
        "created_at": iso(n.created_at),
        "is_read": n.read_at is not None,
        "read_at": iso(n.read_at),
        "actions": list(n.actions or []),
    }


def user_dict(u: User) -> dict[str, Any]:
    """Serialize a user as GET /api/v1/me returns it."""
    return {
        "id": u.id,
        "email": u.email,
        "role": u.role,
        "tenant": u.tenant.name,
        "timezone": u.timezone,
        "phone": u.phone,
    }
