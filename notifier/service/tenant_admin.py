"""What the admin screens do to a tenant: its users, their tokens, test sends, recent deliveries.

Every function takes the admin's tenant id and answers NotFound for a row of another tenant,
so a page can never reach across tenants by changing an id in a URL.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from sqlalchemy import delete, select

from notifier.extensions import db
from notifier.models import ApiToken, Delivery, User, UserSession, WebhookEndpoint, utcnow
from notifier.service import accounts, integrations, sessions
from notifier.service.errors import Conflict, NotFound, ValidationError
from notifier.service.failures import printable
from notifier.service.serialize import iso

RECENT = 10
Target = Literal["webhook", "chat"]


def users(tenant_id: int) -> list[User]:
    """Return every user of the tenant, by email."""
    query = select(User).where(User.tenant_id == tenant_id).order_by(User.email)
    return list(db.session.scalars(query))


def user(tenant_id: int, user_id: int) -> User:
    """Return one user of the tenant; NotFound otherwise."""
    row = db.session.get(User, user_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("user not found")
    return row


def set_active(tenant_id: int, user_id: int, active: bool, *, actor: User) -> User:
    """Deactivate (sign-ins end, streams close, tokens stop) or reactivate a user."""
    target = user(tenant_id, user_id)
    if target.id == actor.id and not active:
        raise Conflict("you cannot deactivate yourself", fields={"user": "that is you"})
    if active:
        target.active = True
        db.session.commit()
    else:
        sessions.deactivate_user(target)
    return target


def reset_password(tenant_id: int, user_id: int, password: str | None) -> tuple[User, str | None]:
    """Set a new password (or generate one, returned to show once); every sign-in ends."""
    target = user(tenant_id, user_id)
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    if len(password) < 8:
        raise ValidationError("password too short", fields={"password": "at least 8 characters"})
    target.password_hash = accounts.hash_password(password)
    # Whoever knew the old password may be signed in with it: those sign-ins end now.
    db.session.execute(delete(UserSession).where(UserSession.user_id == target.id))
    db.session.commit()
    sessions.close_streams(target)
    return target, generated


def tokens(tenant_id: int) -> list[tuple[ApiToken, str]]:
    """Return the tenant's API tokens with their owner's email, newest first."""
    rows = db.session.execute(
        select(ApiToken, User.email)
        .join(User, ApiToken.user_id == User.id)
        .where(User.tenant_id == tenant_id)
        .order_by(ApiToken.id.desc())
    ).all()
    return [(row[0], row[1]) for row in rows]


def issue_token(tenant_id: int, user_id: int, name: str) -> tuple[ApiToken, str]:
    """Create a token for a user of the tenant; the plaintext is returned to show once."""
    owner = user(tenant_id, user_id)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError("bad token name", fields={"name": "1 to 100 characters"})
    return accounts.create_token_row(owner, name)


def revoke_token(tenant_id: int, token_id: int) -> ApiToken:
    """Revoke a token of any user of the tenant; its streams close."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user is None or row.user.tenant_id != tenant_id:
        raise NotFound("token not found")
    if row.revoked_at is None:
        accounts.revoke_token(row.user, token_id)
    return row


def _webhook(tenant_id: int, webhook_id: int) -> WebhookEndpoint:
    row = db.session.get(WebhookEndpoint, webhook_id)
    if row is None or row.tenant_id != tenant_id or row.deleted_at is not None:
        raise NotFound("webhook not found")
    return row


def send_test(tenant_id: int, target: Target, target_id: int, *, sender: User) -> Delivery:
    """Queue a test message to one webhook or integration; the delivery worker sends it."""
    if target == "webhook":
        _webhook(tenant_id, target_id)
    else:
        integrations.get(tenant_id, target_id)
    now = utcnow()
    row = Delivery(
        tenant_id=tenant_id,
        user_id=None,
        channel=target,
        status="pending",
        webhook_id=target_id if target == "webhook" else None,
        integration_id=target_id if target == "chat" else None,
        payload={
            "type": "test",
            "title": "Test message from Notifier",
            "body": f"Sent by {sender.email} from the admin screen to check this endpoint.",
            "priority": "normal",
            "entity_type": None,
            "entity_id": None,
            "url": None,
            "tags": [],
        },
        due_at=now,
        created_at=now,
        attempts=0,
    )
    db.session.add(row)
    db.session.commit()
    return row


def recent(
    tenant_id: int, target: Target, target_id: int, limit: int = RECENT
) -> list[dict[str, Any]]:
    """Return the newest deliveries to one webhook or integration, in printable text."""
    column = Delivery.webhook_id if target == "webhook" else Delivery.integration_id
    rows = db.session.scalars(
        select(Delivery)
        .where(Delivery.tenant_id == tenant_id, column == target_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    out = []
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        out.append(
            {
                "id": row.id,
                "status": row.status,
                "title": printable(str(payload.get("title") or "")),
                "attempts": row.attempts or 0,
                "created_at": iso(row.created_at),
                "sent_at": iso(row.sent_at),
                "last_error": printable(row.last_error) if row.last_error else None,
            }
        )
    return out
