"""The embeddable inbox (CONTRACT §11): tenant secrets, allowed origins, signed-in embeds.

A host site signs each user with ``HMAC-SHA256(tenant embed secret, email)`` (hex); the
widget trades ``{email, hash}`` for an inbox-scoped token. The secret is shown to admins, so
it is stored reversibly but encrypted with AES-GCM under a key derived (HKDF-SHA256) from
SECRET_KEY: a leaked database or backup alone cannot mint embeds. Rotating SECRET_KEY makes
the stored secret unreadable; it is then replaced by a new one (hosts must re-sign).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import TenantEmbed, User
from notifier.service.errors import ValidationError

log = logging.getLogger(__name__)

MAX_ORIGINS = 20
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
# What an allowed origin looks like (the OpenAPI document states the same pattern).
ORIGIN_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:{_PORT})?/?$"
_ORIGIN_RE = re.compile(ORIGIN_PATTERN)
TOKEN_PREFIX = "emb_"  # noqa: S105 - a prefix, not a secret


def _key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"notifier.embed-secret")
    return hkdf.derive(str(current_app.config["SECRET_KEY"]).encode())


def _seal(secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key()).encrypt(nonce, secret.encode(), None)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _open(sealed: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return AESGCM(_key()).decrypt(raw[:12], raw[12:], None).decode()
    except (InvalidTag, ValueError):
        return None


def settings(tenant_id: int) -> tuple[str, list[str]]:
    """Return the tenant's secret and origins, creating (or, unreadable, replacing) the secret."""
    row = db.session.get(TenantEmbed, tenant_id)
    secret = _open(row.secret_enc) if row is not None else None
    if row is None or secret is None:
        if row is not None:
            log.warning("embed: tenant %s secret unreadable (new SECRET_KEY?): replaced", tenant_id)
        secret = secrets.token_urlsafe(32)
        if row is None:
            row = TenantEmbed(tenant_id=tenant_id, origins=[])
            db.session.add(row)
        row.secret_enc = _seal(secret)
        db.session.commit()
    return secret, list(row.origins or [])


def clean_origin(value: Any) -> str | None:
    """Return ``scheme://host[:port]`` (lower-case), or None when ``value`` is not an origin."""
    if not isinstance(value, str) or len(value) > 200 or not _ORIGIN_RE.match(value):
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def set_origins(tenant_id: int, origins: Any) -> list[str]:
    """Replace the tenant's allowed origins (422 for anything but a list of origins)."""
    if not isinstance(origins, list) or len(origins) > MAX_ORIGINS:
        raise ValidationError(
            f"origins must be a list of at most {MAX_ORIGINS} origins",
            fields={"origins": f"list of at most {MAX_ORIGINS} origins"},
        )
    cleaned = [clean_origin(o) for o in origins]
    if any(o is None for o in cleaned):
        raise ValidationError(
            "each origin is scheme://host[:port]", fields={"origins": "http(s)://host[:port] only"}
        )
    settings(tenant_id)  # make sure the row (and a secret) exists
    row = db.session.get(TenantEmbed, tenant_id)
    assert row is not None
    row.origins = list(dict.fromkeys(o for o in cleaned if o))
    db.session.commit()
    return list(row.origins)


def origin_allowed(tenant_id: int, origin: str | None) -> bool:
    """Return True when ``origin`` is one of the tenant's embed origins."""
    wanted = clean_origin(origin)
    if wanted is None:
        return False
    row = db.session.get(TenantEmbed, tenant_id)
    return row is not None and wanted in (row.origins or [])


def any_tenant_allows(origin: str | None) -> bool:
    """Return True when some tenant lists ``origin`` (a preflight names no tenant yet)."""
    wanted = clean_origin(origin)
    if wanted is None:
        return False
    return any(wanted in (o or []) for o in db.session.scalars(select(TenantEmbed.origins)))


def signed_user(email: Any, digest: Any) -> User | None:
    """Return the active user whose tenant's secret signs ``email`` as ``digest``, else None.

    The comparison runs in constant time; an unknown email still computes an HMAC.
    """
    if not isinstance(email, str) or not isinstance(digest, str) or len(digest) > 128:
        return None
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    secret = settings(user.tenant_id)[0] if user is not None else secrets.token_urlsafe(32)
    expected = hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected.encode(), digest.strip().lower().encode())
    return user if ok and user is not None and user.active else None


def sign(secret: str, email: str) -> str:
    """Return the hash a host computes for ``email`` (demo page, tests)."""
    return hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="notifier.embed-token")


def ttl() -> int:
    """Return the lifetime of an embed token in seconds."""
    return int(current_app.config["NOTIFIER_EMBED_TOKEN_TTL"])


def create_token(user: User) -> str:
    """Return an inbox-scoped bearer token for ``user``."""
    return TOKEN_PREFIX + _serializer().dumps({"u": user.id})


def token_user(token: str) -> User | None:
    """Return the active user of a valid, unexpired embed token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 300:
        return None
    try:
        data = _serializer().loads(token[len(TOKEN_PREFIX) :], max_age=ttl())
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    return user if user is not None and user.active else None
