"""Account administration for the API: users of a tenant, profiles, API tokens, webhooks."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from notifier.extensions import db
from notifier.models import ApiToken, User, WebhookEndpoint, utcnow
from notifier.service import accounts
from notifier.service.errors import NotFound, ValidationError
from notifier.service.preferences import TYPE_RE
from notifier.service.serialize import iso

PROFILE_FIELDS = ("timezone", "phone")
READONLY_PROFILE_FIELDS = ("id", "email", "role", "tenant")
MAX_WEBHOOK_TYPES = 50


def list_users(tenant_id: int, *, limit: int, before: int | None) -> tuple[list[User], str | None]:
    """Return one page of the tenant's users, newest first, and the token of the next page."""
    q = select(User).where(User.tenant_id == tenant_id)
    if before is not None:
        q = q.where(User.id < before)
    rows = list(db.session.scalars(q.order_by(User.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def update_profile(user: User, doc: dict[str, Any]) -> User:
    """Change the caller's timezone and phone; 422 for read-only or unknown fields."""
    errors: dict[str, str] = {}
    for key in doc:
        if key in READONLY_PROFILE_FIELDS:
            errors[key] = "read-only"
        elif key not in PROFILE_FIELDS:
            errors[key] = "unknown field"
    changes = accounts.validate_profile(doc, errors)
    if errors:
        raise ValidationError("invalid profile", fields=errors)
    for key, value in changes.items():
        setattr(user, key, value)
    db.session.commit()
    return user


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


def list_tokens(user: User) -> list[ApiToken]:
    """Return the user's tokens, newest first, revoked ones included."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def issue_token(user: User, name: Any) -> tuple[ApiToken, str]:
    """Create a named token for the user; return its row and the plaintext (shown once)."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("a token name is required", fields={"name": "is required"})
    if len(name.strip()) > 100:
        raise ValidationError("token name too long", fields={"name": "at most 100 characters"})
    return accounts.create_token_row(user, name.strip())


def revoke_token(user: User, token_id: int) -> None:
    """Revoke one of the user's tokens; NotFound for anyone else's."""
    if not accounts.revoke_token(user, token_id):
        raise NotFound("token not found")


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
