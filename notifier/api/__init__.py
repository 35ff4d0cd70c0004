"""REST API v1 blueprint: JSON in and out, bearer tokens, one error shape."""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask

from notifier.api.request import enforce_body_limit

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Oversized bodies get 413 before auth or parsing, on every API route alike.
bp.before_request(enforce_body_limit)

# Route modules register themselves on `bp` (or on the ops blueprint) when imported.
ROUTE_MODULES = (
    "health",
    "notifications",
    "preferences",
    "users",
    "webhooks",
    "push",
    "stream",
    "openapi",
)


def init_app(app: Flask) -> None:
    """Import the route modules, register the blueprints and the JSON error handlers."""
    from notifier.api import errors
    from notifier.extensions import csrf

    for name in ROUTE_MODULES:
        try:
            importlib.import_module(f"notifier.api.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"notifier.api.{name}":
                raise
    from notifier import limits
    from notifier.api.health import ops

    app.register_blueprint(bp)
    app.register_blueprint(ops)
    csrf.exempt(bp)  # bearer-token API; session cookies are accepted there only for reads
    errors.init_app(app)
    limits.init_app(app)
