"""Authentication: session users, bearer tokens, stream tokens, and the role guards."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Request, Response, abort, g, redirect, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import current_user
from itsdangerous import URLSafeTimedSerializer

from notifier.bus.control import Credential
from notifier.extensions import login_manager
from notifier.models import User
from notifier.service import accounts, embed, sessions, tokens
from notifier.service.errors import Forbidden, ServiceError

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# What an embedded inbox's token may reach (CONTRACT §11): its own inbox, never publish/admin.
INBOX_ENDPOINTS = frozenset(
    f"api.{name}"
    for name in (
        "list_notifications",
        "notification_stats",
        "get_notification",
        "mark_read",
        "mark_unread",
        "bulk",
        "read_all",
        "notifications_stream",
        "notifications_ws",
        "notifications_ws_upgrade",
        "stream_token",
    )
)


class Unauthorized(ServiceError):
    """No or bad credentials (401)."""

    status = 401
    code = "unauthorized"


def init_app(app: Flask) -> None:
    """Wire Flask-Login to server-side sessions and the login page; harden the cookies."""
    login_manager.login_view = "web.login"
    login_manager.session_protection = "strong"
    secure_cookies(app)
    app.session_interface = CookieSessions()

    @login_manager.user_loader
    def _load(raw_id: str) -> User | None:
        # "<user id>:<session token>": a deleted sign-in (logout) authenticates nothing.
        return sessions.user_for_session(raw_id)

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        if request.path.startswith("/api/"):
            raise Unauthorized("authentication required")
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, free for the requests that carry no session.

    Flask builds a signing serializer (key derivation included) to open every request's
    session, and computes every cookie option to save it, even with no cookie and nothing
    stored: API callers with a bearer token, /healthz, probes. Here a request without the
    cookie gets an empty session at once, an empty untouched session is not saved (Flask's
    own code sets nothing for it either), and the serializer is built once per key set.
    """

    _signer: tuple[tuple[Any, ...], URLSafeTimedSerializer] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Return Flask's serializer for the app's current keys, reused while they stay."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._signer
        if cached is not None and cached[0] == keys:
            return cached[1]
        signer = super().get_signing_serializer(app)
        if signer is not None:
            self._signer = (keys, signer)
        return signer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Return an empty session when no session cookie came, else Flask's."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save as Flask does, skipping a session nothing read, wrote or stored."""
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)


def secure_cookies(app: Flask) -> None:
    """Make every cookie HttpOnly and SameSite=Lax, and Secure when the site is served over https.

    The remember cookie lasts as long as a sign-in may (REMEMBER_COOKIE_DURATION, 30 days
    unless configured; Flask-Login's own default is 365).
    """
    app.config.setdefault("REMEMBER_COOKIE_DURATION", sessions.DEFAULT_MAX_AGE)
    for prefix in ("SESSION", "REMEMBER"):
        app.config[f"{prefix}_COOKIE_HTTPONLY"] = True
        app.config.setdefault(f"{prefix}_COOKIE_SAMESITE", "Lax")
    if str(app.config.get("NOTIFIER_BASE_URL") or "").lower().startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True


def api_user(*, allow_stream_token: bool = False) -> User:
    """Return the caller: bearer token, then (for reads) the session, then a stream token.

    The credential that authenticated it goes in ``g.credential`` (see :func:`credential`).
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <token>", code="invalid_token")
        if token.strip().startswith(embed.TOKEN_PREFIX):
            return _embed_user(token.strip())
        found = accounts.token_user(token.strip())
        if found is None:
            raise Unauthorized("invalid or revoked token", code="invalid_token")
        g.credential = ("token", found[0])
        return found[1]
    # Cookies ride along on cross-site requests; only reads may use them (no CSRF on the API).
    if request.method in SAFE_METHODS and current_user.is_authenticated:
        user: User = current_user._get_current_object()
        g.credential = session_credential(user)
        return user
    if allow_stream_token and request.args.get("token"):
        claims = tokens.stream_token_claims(request.args["token"])
        if claims is None:
            raise Unauthorized("invalid or expired stream token", code="invalid_token")
        user, g.credential = claims
        if g.credential[0] == "embed":  # an embedded inbox's stream: CORS for its tenant
            g.embed_user = user
        return user
    raise Unauthorized("authentication required")


def _embed_user(token: str) -> User:
    """Authenticate an embedded inbox's token, which reaches INBOX_ENDPOINTS only."""
    user = embed.token_user(token)
    if user is None:
        raise Unauthorized("invalid or expired embed token", code="invalid_token")
    if request.endpoint not in INBOX_ENDPOINTS:
        raise Forbidden("an embed token only reads and marks its inbox", code="token_scope")
    g.credential = ("embed", user.id)
    g.embed_user = user
    return user


def session_credential(user: User) -> Credential | None:
    """Return the credential of the sign-in ``user`` was loaded through (None without one)."""
    sid = user.login_session_id
    return ("session", int(sid)) if sid is not None else None


def credential() -> Credential:
    """Return the credential :func:`api_user` authenticated this request with (401 if none)."""
    found: Credential | None = g.get("credential")
    if found is None:
        raise Unauthorized("authentication required")
    return found


def api_auth(*, admin: bool = False, allow_stream_token: bool = False) -> Callable[[F], F]:
    """Require an API caller (and the admin role) and put it in ``g.user``."""

    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.user = api_user(allow_stream_token=allow_stream_token)
            if admin and not g.user.is_admin:
                raise Forbidden("admin role required")
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def admin_required(fn: F) -> F:
    """Guard a page for admins; members get 404 so the page's existence does not leak."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(404)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
