"""Stream tokens: signed, short-lived, naming the credential that minted them (CONTRACT §8).

A stream token authenticates ``?token=`` on a stream, where an EventSource cannot send a
header. It names its parent (an API token, a sign-in or an embedded inbox), which must still
be live at every connect: revoking the parent ends the stream token too.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import lazyload

from notifier.bus.control import Credential
from notifier.extensions import db
from notifier.models import ApiToken, User
from notifier.service import sessions, token_cache

SALT = "notifier.stream-token"
NO_TENANT = (lazyload(User.tenant),)
# A stream token's parent with its user's columns, in Core: the ORM load of the token row and
# its joined user (identity map, row processors) was a quarter of a stream connect's samples.
_PARENT_TOKEN = (
    select(ApiToken.token_hash, ApiToken.user_id, ApiToken.revoked_at, ApiToken.last_used_at)
    .add_columns(*token_cache.USER_COLUMNS)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.id == bindparam("token_id"))
)
#: Where the snapshot tuple (token_cache.USER_COLUMNS order) holds what a stream needs.
_AT = {c.key: i for i, c in enumerate(token_cache.USER_COLUMNS)}
_ACTIVE, _TENANT = _AT["active"], _AT["tenant_id"]


class StreamCaller(NamedTuple):
    """Who a stream token opens a stream for: ids and the parent credential, no ORM user."""

    user_id: int
    tenant_id: int
    credential: Credential


@functools.lru_cache(maxsize=8)
def _serializer_for(secret: Any) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def _stream_serializer() -> URLSafeTimedSerializer:
    """Return the app's stream-token serializer (one per secret: building it cost a connect)."""
    return _serializer_for(current_app.config["SECRET_KEY"])


def create_stream_token(user: User, parent: Credential) -> tuple[str, int]:
    """Return a signed, reusable stream token and its lifetime in seconds.

    It names its ``parent`` (the API token or sign-in that minted it), which must still be
    live at every connect: revoking the parent ends the stream token too.
    """
    ttl = int(current_app.config["NOTIFIER_STREAM_TOKEN_TTL"])
    kind, ident = parent
    return _stream_serializer().dumps({"u": user.id, kind[0]: ident}), ttl


def _data(token: str) -> dict[str, Any] | None:
    """Return the claims of a validly signed, unexpired stream token, else None."""
    ttl = int(current_app.config["NOTIFIER_STREAM_TOKEN_TTL"])
    try:
        data = _stream_serializer().loads(token, max_age=ttl)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return data


def _parent_entry(token_id: int, user_id: int) -> token_cache.Entry | None:
    """Return the cache entry of the live parent token ``token_id`` of ``user_id``."""
    entry = token_cache.current().live_entry(token_id, user_id)
    if entry is None:
        row = db.session.execute(_PARENT_TOKEN, {"token_id": token_id}).first()
        if row is None or row[1] != user_id or row[2] is not None:
            return None
        entry = token_cache.current().remember(row[0], token_id, user_id, row[3])
        entry.user = tuple(row[4:])  # the user's columns, read with the token row
    return entry


def stream_token_claims(token: str) -> tuple[User, Credential] | None:
    """Return the user and parent credential of a valid stream token whose parent is live."""
    data = _data(token)
    if data is None:
        return None
    user_id = data["u"]
    if isinstance(data.get("t"), int):
        entry = _parent_entry(data["t"], user_id)
        if entry is None:
            return None
        user = token_cache.user_of(entry)  # the snapshot, or the identity map: no query
        return (user, ("token", data["t"])) if user is not None and user.active else None
    if isinstance(data.get("s"), int):
        if not sessions.session_live(data["s"], user_id):
            return None
        parent: Credential = ("session", data["s"])
    elif data.get("e") == user_id:  # minted by an embedded inbox (service/embed.py)
        parent = ("embed", user_id)
    else:
        return None  # minted before stream tokens named their parent: nothing to check it by
    user = db.session.get(User, user_id, options=NO_TENANT)
    return (user, parent) if user is not None and user.active else None


def stream_token_caller(token: str) -> StreamCaller | None:
    """Return who a stream token minted from an API token opens a stream for, or None.

    The fast lane's check (api/lane_stream.py): the same rules as :func:`stream_token_claims`
    read off the token cache's user snapshot, without building an ORM ``User`` (which was a
    fifth of a stream token's check). None also for a valid token minted from a sign-in or an
    embedded inbox: the caller then takes the full path.
    """
    data = _data(token)
    if data is None or not isinstance(data.get("t"), int):
        return None
    entry = _parent_entry(data["t"], data["u"])
    values = entry.user if entry is not None else None
    if values is None or not values[_ACTIVE]:
        return None
    return StreamCaller(data["u"], int(values[_TENANT]), ("token", data["t"]))


def user_for_stream_token(token: str) -> User | None:
    """Return the user of a valid, unexpired stream token whose parent is still live."""
    claims = stream_token_claims(token)
    return claims[0] if claims is not None else None
