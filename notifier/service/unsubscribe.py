"""Signed one-click unsubscribe links (RFC 8058): per user, per notification type.

A link carries ``{"u": user id, "t": [types]}`` signed with the app secret (itsdangerous,
its own salt, so no other signed value of the app can pass for one). It does not expire: a
mail read months later must still let its reader stop the next one. It only ever turns email
off, so a leaked link can do no more than that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from notifier.extensions import db
from notifier.models import User
from notifier.service import preferences
from notifier.service.errors import NotFound

SALT = "notifier.unsubscribe.v1"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=SALT)


def make_token(user_id: int, types: Sequence[str]) -> str:
    """Return the signed token naming the user and the types one email was about."""
    return _serializer().dumps({"u": int(user_id), "t": sorted(set(types))})


def read_token(token: str) -> tuple[User, list[str]]:
    """Return (user, types) of a valid token; NotFound for a forged, altered or stale one."""
    try:
        data: Any = _serializer().loads(token)
    except BadSignature as exc:
        raise NotFound("this unsubscribe link is not valid") from exc
    types = data.get("t") if isinstance(data, dict) else None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or not isinstance(types, list) or not types:
        raise NotFound("this unsubscribe link is not valid")
    return user, [t for t in types if isinstance(t, str) and preferences.TYPE_RE.fullmatch(t)]


def email_is_on(user: User, types: Sequence[str]) -> bool:
    """Return True while email reaches the user for any of ``types``."""
    prefs = preferences.get_preferences(user.id)
    return any(preferences.channel_allowed(prefs, t, "email") for t in types)


def apply(token: str) -> tuple[User, list[str]]:
    """Turn email off for the token's types (idempotent); return (user, types)."""
    user, types = read_token(token)
    doc = {"types": {t: {"email": False} for t in types}}
    preferences.set_preferences(user, doc, merge=True)
    return user, types
