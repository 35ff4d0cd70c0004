"""Sign-in sessions kept server-side, and closing the streams of a credential that died.

A login creates a :class:`UserSession` row and puts ``"<user id>:<token>"`` in the Flask
session and the "keep me signed in" cookie (``User.get_id``); only the token's SHA-256 is
stored. Each request loads the user through that row, so logout (which deletes it) ends the
sign-in for every copy of either cookie, and each login mints a fresh remember value.
Streams remember the credential that opened them; :func:`close_streams` ends them in every
process through the bus (bus/control.py).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from notifier.bus.control import Credential, close_message
from notifier.extensions import db, state
from notifier.models import ApiToken, User, UserSession, utcnow
from notifier.service import token_cache

DEFAULT_MAX_AGE = timedelta(days=30)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def max_age() -> timedelta:
    """Return how long a sign-in lasts at most: REMEMBER_COOKIE_DURATION (seconds or timedelta)."""
    value = current_app.config.get("REMEMBER_COOKIE_DURATION", DEFAULT_MAX_AGE)
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))


def start_session(user: User) -> UserSession:
    """Record a new sign-in of ``user`` and put its token on the object for ``get_id``."""
    # Sign-ins that outlived max_age() can never authenticate again: drop them here, so rows
    # do not pile up for users who close the browser instead of signing out.
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.created_at < utcnow() - max_age()
        )
    )
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, token_hash=_digest(token))
    db.session.add(row)
    db.session.commit()
    user.login_token, user.login_session_id = token, row.id
    return row


def user_for_session(raw: str) -> User | None:
    """Return the active user of a live sign-in named by ``"<user id>:<token>"``, else None."""
    uid, sep, token = raw.partition(":")
    if not sep or not (uid.isascii() and uid.isdigit() and len(uid) <= 18):
        return None  # also every cookie written before sessions were kept server-side
    if not 20 <= len(token) <= 100:
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
    if row is None or row.user_id != int(uid) or row.created_at < utcnow() - max_age():
        return None
    user = row.user
    if not user.active:
        return None
    user.login_token, user.login_session_id = token, row.id
    return user


def session_live(session_id: int, user_id: int) -> bool:
    """Return True while the sign-in ``session_id`` of ``user_id`` may still authenticate."""
    created = db.session.scalar(
        select(UserSession.created_at).where(
            UserSession.id == session_id, UserSession.user_id == user_id
        )
    )
    return created is not None and created >= utcnow() - max_age()


def credential_live(user_id: int, credential: Credential) -> bool:
    """Return True while ``credential`` of ``user_id`` may still open streams."""
    kind, ident = credential
    if kind == "session":
        live = session_live(ident, user_id)
    elif kind == "embed":  # an embedded inbox's signed token: lives until it expires
        live = ident == user_id
    else:
        revoked = db.session.execute(
            select(ApiToken.revoked_at).where(ApiToken.id == ident, ApiToken.user_id == user_id)
        ).first()
        live = revoked is not None and revoked[0] is None
    return live and bool(db.session.scalar(select(User.active).where(User.id == user_id)))


def end_session(user: User) -> None:
    """End the sign-in ``user`` was loaded through and close the streams opened with it."""
    session_id = user.login_session_id
    if session_id is None:
        return
    db.session.execute(delete(UserSession).where(UserSession.id == session_id))
    db.session.commit()
    user.login_token = user.login_session_id = None
    close_streams(user, ("session", session_id))


def deactivate_user(user: User) -> None:
    """Deactivate ``user``: every sign-in ends and every stream of theirs closes.

    Their API tokens and stream tokens stop authenticating because each check requires an
    active user; a reactivated user signs in again.
    """
    user.active = False
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    db.session.commit()
    close_streams(user)


def close_streams(user: User, credential: Credential | None = None) -> None:
    """Close ``user``'s streams in every process: all, or those opened with ``credential``."""
    st = state()
    # Here at once; the other processes when the close message reaches their hub.
    token_cache.for_hub(st.hub).forget(user.id, credential)
    message = close_message(user.id, user.tenant_id, credential)
    try:
        sent = st.broker.publish([message])
    except Exception:  # the credential is already dead in the database; never fail the caller
        current_app.logger.exception("bus: close message for user %s not published", user.id)
        sent = False
    if not sent:
        # The bus is down: end this process's streams now; the others check their credential
        # when the bus comes back (they replay then, see stream/session.py).
        st.hub.close_streams(user.id, credential)
