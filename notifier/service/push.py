"""Web Push subscriptions: the VAPID key, subscribe (upsert by user and endpoint), unsubscribe.

A browser's ``PushSubscription.toJSON()`` is ``{endpoint, expirationTime, keys: {p256dh,
auth}}``. The key is (user, endpoint): subscribing an endpoint the caller already has updates
its keys; an endpoint stored for anyone else is never touched, read or reported, and the caller
gets a row of their own, answered exactly as a new subscription is. So nobody can take over
another user's (or tenant's) pushes by posting their endpoint, nor learn that it exists. A
browser profile shared by two users who both turned alerts on gets each one's pushes until
they unsubscribe. Endpoints must be https (http too with NOTIFIER_WEBHOOK_ALLOW_PRIVATE, for
development); the push channel checks the address again before every send and connects to it.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from notifier.channels import configured
from notifier.extensions import db
from notifier.models import PushSubscription, User
from notifier.service.errors import NotFound, ValidationError

MAX_ENDPOINT = 2048  # The column's size; real endpoints are a few hundred characters.
_B64URL = re.compile(r"\A[A-Za-z0-9_-]+={0,2}\Z")
P256DH_BYTES = 65  # An uncompressed P-256 point: 0x04, X, Y.
AUTH_BYTES = 16


def vapid_public_key() -> str:
    """Return the key browsers pass to ``pushManager.subscribe``; NotFound when push is off."""
    cfg = current_app.config
    key = cfg.get("NOTIFIER_VAPID_PUBLIC_KEY")
    if not configured("push", cfg):
        raise NotFound("web push is not configured on this server")
    return str(key)


def _decode(value: str) -> bytes | None:
    if not _B64URL.fullmatch(value):
        return None
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None


def validate(endpoint: Any, p256dh: Any, auth: Any) -> tuple[str, str, str]:
    """Return the cleaned (endpoint, p256dh, auth); ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    allow_http = bool(current_app.config.get("NOTIFIER_WEBHOOK_ALLOW_PRIVATE"))
    if not isinstance(endpoint, str) or not endpoint.strip():
        errors["endpoint"] = "required"
    elif len(endpoint) > MAX_ENDPOINT:  # as sent, like a webhook URL: one limit the docs can state
        errors["endpoint"] = f"at most {MAX_ENDPOINT} characters"
    else:
        try:
            parts = urlsplit(endpoint.strip())
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            parts = None
        schemes = ("https", "http") if allow_http else ("https",)
        if parts is None or parts.scheme not in schemes or not parts.hostname:
            errors["endpoint"] = "must be an https URL"
        elif parts.username is not None or parts.password is not None:
            errors["endpoint"] = "must not contain credentials"
    for name, value, size in (("p256dh", p256dh, P256DH_BYTES), ("auth", auth, AUTH_BYTES)):
        raw = _decode(value) if isinstance(value, str) else None
        if raw is None:
            errors[f"keys.{name}"] = "must be base64url"
        elif len(raw) != size or (name == "p256dh" and raw[0] != 4):
            errors[f"keys.{name}"] = f"must encode {size} bytes" + (
                " (an uncompressed P-256 key)" if name == "p256dh" else ""
            )
    if errors:
        raise ValidationError("invalid push subscription", fields=errors)
    return endpoint.strip(), p256dh.rstrip("="), auth.rstrip("=")


def subscribe(user: User, endpoint: Any, p256dh: Any, auth: Any) -> PushSubscription:
    """Store the browser's subscription for ``user`` (upsert by user and endpoint) and commit."""
    endpoint, p256dh, auth = validate(endpoint, p256dh, auth)
    for _ in range(2):  # A concurrent insert of the same pair loses once, then updates.
        row = db.session.scalar(
            select(PushSubscription).where(
                PushSubscription.user_id == user.id, PushSubscription.endpoint == endpoint
            )
        )
        if row is None:
            row = PushSubscription(user_id=user.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
            db.session.add(row)
        else:
            row.p256dh, row.auth = p256dh, auth
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return row
    raise ValidationError("could not store the subscription", fields={"endpoint": "try again"})


def unsubscribe(user: User, subscription_id: int) -> None:
    """Delete one of the user's subscriptions; NotFound for a missing or someone else's."""
    row = db.session.get(PushSubscription, subscription_id)
    if row is None or row.user_id != user.id:
        raise NotFound("push subscription not found")
    db.session.delete(row)
    db.session.commit()
