"""Authentication: session users, bearer tokens, stream tokens, and the role guards."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, g, redirect, request, url_for
from flask_login import current_user

from notifier.extensions import db, login_manager
from notifier.models import User
from notifier.service import accounts
from notifier.service.errors import Forbidden, ServiceError

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Unauthorized(ServiceError):
    """No or bad credentials (401)."""

    status = 401
    code = "unauthorized"


def init_app(app: Flask) -> None:
    """Wire Flask-Login to the User model and the login page."""
    login_manager.login_view = "web.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        if request.path.startswith("/api/"):
            raise Unauthorized("authentication required")
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))


def api_user(*, allow_stream_token: bool = False) -> User:
    """Return the caller: bearer token, then (for reads) the session, then a stream token."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <token>", code="invalid_token")
        user = accounts.user_for_token(token.strip())
        if user is None:
            raise Unauthorized("invalid or revoked token", code="invalid_token")
        return user
    # Cookies ride along on cross-site requests; only reads may use them (no CSRF on the API).
    if request.method in SAFE_METHODS and current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[no-any-return]
    if allow_stream_token and request.args.get("token"):
        user = accounts.user_for_stream_token(request.args["token"])
        if user is None:
            raise Unauthorized("invalid or expired stream token", code="invalid_token")
        return user
    raise Unauthorized("authentication required")


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
