"""Template globals and filters: versioned static URLs, vendored scripts, page state, times."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from flask import Flask, current_app, g, url_for
from flask_babel import get_locale
from flask_login import current_user

from notifier.service import events, inbox
from notifier.service.content import parse_time
from notifier.timefmt import iso
from notifier.vendor import script_tags

#: Events the page's SSE sink swaps (web/fragments.py renders them; the list refresher
#: listens to reset and refresh too).
SINK_EVENTS = ("notification", "update", "stats", "reset", "refresh")

# Client reconnect policy (the seeds' hook options). Override with these config keys.
# The page's data attributes and the keys they come from (defaults: config.Config).
CLIENT_KEYS = {
    "auto_reconnect": "NOTIFIER_CLIENT_AUTO_RECONNECT",
    "reconnect_delay": "NOTIFIER_CLIENT_RECONNECT_DELAY_MS",
    "max_reconnect_delay": "NOTIFIER_CLIENT_MAX_RECONNECT_DELAY_MS",
    "max_reconnect_attempts": "NOTIFIER_CLIENT_MAX_RECONNECT_ATTEMPTS",
}


@lru_cache(maxsize=64)
def _file_hash(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def static_url(filename: str) -> str:
    """Return a static URL with a content-hash version, so files can be cached for a year."""
    path = Path(current_app.static_folder or "") / filename
    try:
        version = _file_hash(str(path), path.stat().st_mtime)
    except OSError:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=version)


def set_page_state(cursor: int, stats: dict[str, int]) -> None:
    """Record the cursor and counts a page was rendered at (the inbox reads them with its list)."""
    g.page_state = {"cursor": cursor, "stats": stats}


def page_state() -> dict[str, Any]:
    """Return {cursor, stats} for the signed-in user, reading the cursor before the counts."""
    if "page_state" not in g:
        if not current_user.is_authenticated:
            return {"cursor": 0, "stats": {"total": 0, "unread": 0, "read": 0}}
        cursor = events.current_cursor(current_user.id)
        set_page_state(cursor, inbox.stats(current_user.id))
    return g.page_state


def stream_url(after: int | None = None) -> str:
    """Return the page stream's URL (GET /stream), resuming after ``after`` when given."""
    base = url_for("web.html_stream")
    return base if after is None else f"{base}?after={int(after)}"


def client_config() -> dict[str, Any]:
    """Return the live-connection settings the page hands to static/js as data attributes."""
    cfg = current_app.config
    out: dict[str, Any] = {key: cfg[name] for key, name in CLIENT_KEYS.items()}
    out["auto_reconnect"] = "true" if out["auto_reconnect"] else "false"
    out["ping_interval"] = int(cfg["NOTIFIER_PING_INTERVAL"]) * 1000
    return out


def to_datetime(value: Any) -> datetime | None:
    """Turn a naive-UTC datetime or an ISO string into a naive-UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return parse_time(value)


def iso_filter(value: Any) -> str:
    """Format a time as ISO 8601 UTC for <time datetime>."""
    return iso(to_datetime(value)) or ""


def when_filter(value: Any) -> str:
    """Format a time for people (static/js turns it into "5 min ago" in the reader's zone).

    In the page's language ("2 Dec 2026, 10:00 UTC", "02.12.2026, 10:00 UTC"); English, the
    stream's case outside a request, stays a plain strftime (no Babel lookup per item).
    """
    dt = to_datetime(value)
    if dt is None:
        return ""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return f"{dt.day} {dt:%b %Y, %H:%M} UTC"
    return f"{format_date(dt, 'medium', locale=locale)}, {dt:%H:%M} UTC"


def init_app(app: Flask) -> None:
    """Expose the helpers to every template."""
    app.jinja_env.filters["iso"] = iso_filter
    app.jinja_env.filters["when"] = when_filter

    @app.context_processor
    def _globals() -> dict[str, Any]:
        # Callables, not values: a page pays only for what it shows.
        return {
            "static_url": static_url,
            "vendor_scripts": lambda: script_tags(static_url, app.static_folder),
            "page_state": page_state,
            "client_config": client_config,
            "stream_url": stream_url,
            "sink_events": ",".join(SINK_EVENTS),
        }
