"""Accounts: tenants, users, passwords, API tokens (stored hashed) and stream tokens.

Stream tokens live in service/tokens.py (re-exported here).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload
from werkzeug.security import check_password_hash, generate_password_hash

from notifier.extensions import db
from notifier.i18n import LOCALES
from notifier.models import ROLES, ApiToken, EventCursor, Tenant, User, utcnow
from notifier.service import sessions, token_cache
from notifier.service.emails import EmailNotValidError, normalized_address
from notifier.service.errors import Conflict, NotFound, ValidationError
from notifier.service.preferences import valid_timezone
from notifier.service.tokens import (  # noqa: F401 - the stream-token API, re-exported
    StreamCaller,
    _stream_serializer,
    create_stream_token,
    stream_token_caller,
    stream_token_claims,
    user_for_stream_token,
)

PROFILE_FIELDS = ("timezone", "phone", "locale")
READONLY_PROFILE_FIELDS = ("id", "email", "role", "tenant")
E164_RE = re.compile(r"\A\+[1-9][0-9]{6,14}\Z")
TOKEN_PREFIX = "ntf_"  # noqa: S105 - a public prefix, not a secret
REAL_HASH_METHOD = "scrypt"  # werkzeug's default: scrypt:32768:8:1
FAST_HASH_METHOD = "pbkdf2:sha256:1000"  # NOTIFIER_TESTING_FAST_HASH only
# Authentication reads the user by primary key on every request; the tenant row User joins
# by default is needed only by the few views that show its name (then it loads lazily).
# py-spy: the joined load was a fifth of a stream connect's samples.
NO_TENANT = (lazyload(User.tenant),)
# One dummy hash per method, made like real ones: an unknown email then costs a wrong password.
_dummy_hashes: dict[str, str] = {}


def password_method() -> str:
    """Return the hash method new passwords get: scrypt, or cheap pbkdf2 under the test flag."""
    if current_app.config.get("NOTIFIER_TESTING_FAST_HASH"):
        return FAST_HASH_METHOD
    return REAL_HASH_METHOD


def hash_password(password: str) -> str:
    """Hash a password with :func:`password_method` (a random salt each time)."""
    return generate_password_hash(password, method=password_method())


def dummy_hash() -> str:
    """Return a hash of a random password made exactly as real ones are (computed once)."""
    method = password_method()
    found = _dummy_hashes.get(method)
    if found is None:  # Two first logins racing both compute one; either result will do.
        found = _dummy_hashes[method] = generate_password_hash(
            secrets.token_urlsafe(16), method=method
        )
    return found


def normalize_email(raw: Any, field: str = "email") -> str:
    """Return a lower-cased, syntax-checked email or raise ValidationError."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("email is required", fields={field: "is required"})
    try:
        address = normalized_address(raw.strip())
    except EmailNotValidError as exc:
        raise ValidationError("invalid email", fields={field: str(exc)}) from exc
    return address.lower()


def get_or_create_tenant(name: str) -> Tenant:
    """Return the tenant called ``name``, creating it."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        tenant = Tenant(name=name)
        db.session.add(tenant)
        db.session.flush()
    return tenant


def validate_profile(doc: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """Check timezone, phone and locale fields; collect messages in ``errors``."""
    out: dict[str, Any] = {}
    if "timezone" in doc:
        if not valid_timezone(doc["timezone"]):
            errors["timezone"] = "unknown time zone"
        out["timezone"] = doc["timezone"]
    if "phone" in doc:
        phone = doc["phone"]
        if phone in (None, ""):
            out["phone"] = None
        elif not isinstance(phone, str) or not E164_RE.fullmatch(phone):
            errors["phone"] = "must be E.164, like +15551234567"
        else:
            out["phone"] = phone
    if "locale" in doc:
        if doc["locale"] not in LOCALES:
            errors["locale"] = f"unsupported locale; one of {', '.join(LOCALES)}"
        out["locale"] = doc["locale"]
    return out


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
    """Change the caller's timezone, phone and locale; 422 for read-only or unknown fields."""
    errors: dict[str, str] = {}
    for key in doc:
        if key in READONLY_PROFILE_FIELDS:
            errors[key] = "read-only"
        elif key not in PROFILE_FIELDS:
            errors[key] = "unknown field"
    changes = validate_profile(doc, errors)
    if errors:
        raise ValidationError("invalid profile", fields=errors)
    for key, value in changes.items():
        setattr(user, key, value)
    db.session.commit()
    return user


def create_user(
    email: Any,
    password: str | None,
    *,
    tenant: Tenant,
    role: str = "member",
    timezone: str = "UTC",
    phone: str | None = None,
) -> User:
    """Create a user and its event-log cursor; Conflict when the email exists."""
    errors: dict[str, str] = {}
    try:
        email = normalize_email(email)
    except ValidationError as exc:
        errors.update(exc.fields)
    if role not in ROLES:
        errors["role"] = "must be admin or member"
    if password is not None and (not isinstance(password, str) or len(password) < 8):
        errors["password"] = "at least 8 characters"  # noqa: S105 - a message
    profile = validate_profile({"timezone": timezone, "phone": phone}, errors)
    if errors:
        raise ValidationError("invalid user", fields=errors)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(
            "a user with this email exists",
            code="email_taken",
            fields={"email": "already registered"},
        )
    user = User(
        email=email,
        password_hash=hash_password(password or secrets.token_urlsafe(24)),
        role=role,
        tenant_id=tenant.id,
        **profile,
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(EventCursor(user_id=user.id, value=0))
    db.session.commit()
    return user


def check_login(email: str, password: str) -> User | None:
    """Return the active user whose password matches, else None (same cost either way)."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.active:
        # Same algorithm and parameters as a real check, so the answer's timing tells nothing.
        check_password_hash(dummy_hash(), password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def digest(token: str) -> str:
    """Return the hash an API token is stored and cached under."""
    return hashlib.sha256(token.encode()).hexdigest()


_digest = digest


def create_token(user: User, name: str = "default") -> str:
    """Create an API token and return the plaintext, which is never stored.

    For operators (``flask create-token``) and fixtures: not held to the per-user cap.
    """
    return create_token_row(user, name, capped=False)[1]


def create_token_row(
    user: User, name: str = "default", *, capped: bool = True
) -> tuple[ApiToken, str]:
    """Create an API token; return its row and the plaintext (the API shows the id too).

    Conflict ``too_many_tokens`` when ``capped`` and the user already holds
    NOTIFIER_MAX_TOKENS_PER_USER unrevoked tokens (revoking one makes room).
    """
    if capped:
        limit = int(current_app.config.get("NOTIFIER_MAX_TOKENS_PER_USER", 50))
        held = db.session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
        if (held or 0) >= limit:
            raise Conflict(
                f"at most {limit} API tokens per user; revoke one first",
                code="too_many_tokens",
            )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name[:100], token_hash=_digest(token), prefix=token[:12])
    db.session.add(row)
    db.session.commit()
    return row, token


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
    return create_token_row(user, name.strip())


def token_row(token: str) -> ApiToken | None:
    """Return the unrevoked token row of an active user; touch last_used_at at most per minute."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        db.session.commit()
    return row


def token_user(token: str) -> tuple[int, User] | None:
    """Return (token id, active user) of an unrevoked token; the token's row from the cache.

    The hot path of every bearer request: no query when the token and its user are cached
    (service/token_cache.py says when an entry is dropped), the full lookup otherwise.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _digest(token)
    entry = token_cache.current().lookup(digest)
    if entry is None:
        row = token_row(token)
        if row is None:
            return None
        entry = token_cache.current().remember(digest, row.id, row.user_id, row.last_used_at)
        entry.user = token_cache.snapshot(row.user)
        return row.id, row.user
    user = token_cache.user_of(entry)
    if user is None or not user.active:
        return None
    now = utcnow()
    if entry.last_used_at is None or now - entry.last_used_at > timedelta(minutes=1):
        entry.last_used_at = now
        db.session.execute(
            update(ApiToken).where(ApiToken.id == entry.token_id).values(last_used_at=now)
        )
        db.session.commit()
    return entry.token_id, user


def user_for_token(token: str) -> User | None:
    """Return the active user of an unrevoked token."""
    row = token_row(token)
    return row.user if row is not None else None


def revoke_token(user: User, token_id: int) -> None:
    """Revoke one of the user's tokens and close its streams; NotFound for anyone else's."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("token not found")
    row.revoked_at = utcnow()
    db.session.commit()
    # Streams opened with the token itself or with a stream token minted from it.
    sessions.close_streams(user, ("token", token_id))
