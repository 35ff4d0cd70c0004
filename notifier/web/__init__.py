"""Server-rendered pages: login, notification center, preferences, admin dashboard."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("web", __name__)


def init_app(app: Flask) -> None:
    """Register the blueprint, the template helpers and the page stream's renderer."""
    app.register_blueprint(bp)
    templating.init_app(app)
    renderer.init_app(app)


# The page modules register on `bp`; imported here, after `bp` exists (microblog's pattern).
from notifier.web import (  # noqa: E402, F401
    admin,
    admin_analytics,
    admin_erase,
    admin_integrations,
    admin_scheduled,
    admin_templates,
    admin_users,
    admin_workflows,
    auth_views,
    desktop,
    embed_views,
    inbox,
    inbox_states,
    item_menu,
    preferences,
    privacy_pages,
    renderer,
    screen,
    selftest,
    stream_views,
    templating,
    unsubscribe,
)
