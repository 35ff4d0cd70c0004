"""REST API v1 blueprint: JSON in and out, bearer tokens, one error shape."""

from __future__ import annotations

from flask import Blueprint, Flask

from notifier.api.request import enforce_body_limit
from notifier.extensions import csrf
from notifier.lane import FastLane

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Oversized bodies get 413 before auth or parsing, on every API route alike.
bp.before_request(enforce_body_limit)


def init_app(app: Flask) -> None:
    """Register the blueprint and the JSON error handlers."""
    app.register_blueprint(bp)
    csrf.exempt(bp)  # bearer-token API; session cookies are accepted there only for reads
    errors.init_app(app)


def install_lane(lane: FastLane) -> None:
    """Put the API's hottest routes on the fast lane (notifier.lane)."""
    lane_publish.install(lane)
    lane_stream.install(lane)


# The route modules register on `bp`; imported here, after `bp` exists (microblog's pattern).
from notifier.api import (  # noqa: E402, F401
    actions,
    analytics,
    embed,
    errors,
    inbox_states,
    integrations,
    lane_publish,
    lane_stream,
    notifications,
    openapi,
    preferences,
    privacy,
    push,
    scheduled,
    stream,
    templates,
    users,
    webhooks,
    workflows,
    ws,
)
