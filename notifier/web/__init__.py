"""Server-rendered pages: login, notification center, preferences, admin dashboard."""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask

bp = Blueprint("web", __name__)

# Page modules register their routes on `bp` when imported.
PAGE_MODULES = ("auth_views", "inbox", "preferences", "admin", "stream_views", "selftest")


def init_app(app: Flask) -> None:
    """Import the page modules and register the blueprint and template helpers."""
    for name in PAGE_MODULES:
        try:
            importlib.import_module(f"notifier.web.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"notifier.web.{name}":
                raise
    app.register_blueprint(bp)
    from notifier.web import renderer, templating

    templating.init_app(app)
    renderer.init_app(app)
