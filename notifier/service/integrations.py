"""Chat integrations: a tenant's Slack and Discord incoming webhooks, and what they are sent.

A publish that asks for the ``chat`` channel (every publish does by default) queues one
delivery per matching integration, not one per recipient: the integration posts to a team
channel, so a broadcast to 500 people is one message. It is queued when at least one
recipient's preferences let ``chat`` carry that type (the preference switch and the type ×
channel grid, as for every channel). The delivery worker then sends it with the retries,
backoff and dead letters of every external delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select

from notifier.extensions import db
from notifier.models import ChatIntegration, Delivery, utcnow
from notifier.service.errors import NotFound, ValidationError
from notifier.service.serialize import iso
from notifier.service.webhooks import _webhook_types

KINDS = ("slack", "discord")
MAX_PER_TENANT = 50


class _Result(Protocol):
    channels: dict[str, bool]
    errors: dict[str, str]


def integration_dict(row: ChatIntegration, hint: Callable[[str], str]) -> dict[str, Any]:
    """Serialize an integration; the URL is its secret, so only ``hint(url)`` is shown."""
    return {
        "id": row.id,
        "kind": row.kind,
        "url": hint(row.url),
        "types": row.types,
        "created_at": iso(row.created_at),
    }


def create(
    tenant_id: int, doc: dict[str, Any], *, check_url: Callable[[str], str | None]
) -> ChatIntegration:
    """Register a Slack or Discord webhook for the tenant; 422 naming each bad field."""
    errors: dict[str, str] = {}
    kind, url = doc.get("kind"), doc.get("url")
    if kind not in KINDS:
        errors["kind"] = "must be slack or discord"
    if not isinstance(url, str) or not url.strip():
        errors["url"] = "is required"
    elif len(url) > 2048:
        errors["url"] = "at most 2048 characters"
    elif problem := check_url(url.strip()):
        errors["url"] = problem
    types = _webhook_types(doc.get("types"), errors)
    if not errors and len(list_for(tenant_id)) >= MAX_PER_TENANT:
        errors["url"] = f"at most {MAX_PER_TENANT} integrations per tenant"
    if errors:
        raise ValidationError("invalid integration", fields=errors)
    row = ChatIntegration(tenant_id=tenant_id, kind=kind, url=str(url).strip(), types=types)
    db.session.add(row)
    db.session.commit()
    return row


def list_for(tenant_id: int) -> list[ChatIntegration]:
    """Return the tenant's live integrations, oldest first."""
    return list(
        db.session.scalars(
            select(ChatIntegration)
            .where(ChatIntegration.tenant_id == tenant_id, ChatIntegration.deleted_at.is_(None))
            .order_by(ChatIntegration.id)
        )
    )


def get(tenant_id: int, integration_id: int) -> ChatIntegration:
    """Return one live integration of the tenant; NotFound for another tenant's or a gone one."""
    row = db.session.get(ChatIntegration, integration_id)
    if row is None or row.tenant_id != tenant_id or row.deleted_at is not None:
        raise NotFound("integration not found")
    return row


def delete(tenant_id: int, integration_id: int) -> None:
    """Retire an integration (soft delete keeps its delivery history); queued sends go dead."""
    get(tenant_id, integration_id).deleted_at = utcnow()
    db.session.commit()


def queue(
    tenant_id: int,
    ntype: str,
    payload: dict[str, Any],
    ids: Sequence[int],
    allowed_users: Sequence[int],
    now: datetime,
    result: _Result,
    *,
    any_live: bool | None = None,
) -> None:
    """Add one delivery per integration matching ``ntype``; the caller's transaction commits.

    ``any_live`` False (the recipient query found none): no query for the integrations.
    """
    if not allowed_users:
        result.channels["chat"] = False
        result.errors.setdefault("chat", "disabled by preferences")
        return
    live = [] if any_live is False else list_for(tenant_id)
    matching = [i for i in live if not i.types or ntype in i.types]
    result.channels["chat"] = bool(matching)
    if not matching:
        result.errors.setdefault("chat", "no chat integration for this type")
        return
    rows = [
        {
            "tenant_id": tenant_id,
            "user_id": None,
            "channel": "chat",
            "status": "pending",
            "integration_id": row.id,
            "notification_id": ids[0] if len(ids) == 1 else None,
            "digest": None,
            "payload": {**payload, "notification_ids": list(ids[:1000])},
            "due_at": now,
            "created_at": now,
            "attempts": 0,
        }
        for row in matching
    ]
    db.session.execute(insert(Delivery), rows)
