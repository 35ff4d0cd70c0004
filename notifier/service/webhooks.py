"""Webhook endpoints of a tenant: register (with a signing secret), list, retire."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from notifier.extensions import db
from notifier.models import WebhookEndpoint, utcnow
from notifier.service.errors import NotFound, ValidationError
from notifier.service.preferences import TYPE_RE

MAX_WEBHOOK_TYPES = 50


def _webhook_types(value: Any, errors: dict[str, str]) -> list[str] | None:
    """Return the cleaned type filter (None = every type); collect problems in ``errors``."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(t, str) and TYPE_RE.match(t) for t in value
    ):
        errors["types"] = "a list of notification types"
        return None
    if len(value) > MAX_WEBHOOK_TYPES:
        errors["types"] = f"at most {MAX_WEBHOOK_TYPES} types"
        return None
    # An empty list would mean "no type" to a reader but "every type" to the dispatcher.
    return list(dict.fromkeys(value)) or None


def create_webhook(
    tenant_id: int,
    url: Any,
    types: Any,
    *,
    check_url: Callable[[str], str | None],
) -> WebhookEndpoint:
    """Register a webhook endpoint for the tenant; ``check_url`` returns why a URL is refused."""
    errors: dict[str, str] = {}
    if not isinstance(url, str) or not url.strip():
        errors["url"] = "is required"
    elif len(url) > 2048:
        errors["url"] = "at most 2048 characters"
    else:
        problem = check_url(url.strip())
        if problem:
            errors["url"] = problem
    clean_types = _webhook_types(types, errors)
    if errors:
        raise ValidationError("invalid webhook", fields=errors)
    row = WebhookEndpoint(
        tenant_id=tenant_id, url=str(url).strip(), types=clean_types, secret=new_secret()
    )
    db.session.add(row)
    db.session.commit()
    return row


def list_webhooks(tenant_id: int) -> list[WebhookEndpoint]:
    """Return the tenant's live webhook endpoints, oldest first."""
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
    )


def delete_webhook(tenant_id: int, webhook_id: int) -> None:
    """Retire a webhook endpoint (soft delete keeps its delivery history); NotFound otherwise."""
    row = db.session.get(WebhookEndpoint, webhook_id)
    if row is None or row.tenant_id != tenant_id or row.deleted_at is not None:
        raise NotFound("webhook not found")
    row.deleted_at = utcnow()
    db.session.commit()


def new_secret() -> str:
    """Return a webhook signing secret."""
    return "whsec_" + secrets.token_urlsafe(24)
