"""Render the HTML fragments the page swaps in: list items, toasts, the badge, SSE messages.

One partial, three callers: ``partials/notification_item.html`` renders the page's list, the
htmx answers to item actions and the SSE messages. The stream calls :func:`render_message`,
:func:`render_stats` and :func:`render_reset` once per message per process, so nothing here
may depend on the connection (no filters, no CSRF token, no session): each page adapts the
fragments to itself in static/js/live.js (it drops swaps whose target it lacks, items its
filter excludes and items it already shows).

Every SSE event's HTML is a bag of out-of-band swaps (``hx-swap-oob``) that the page's
``#sse-sink`` (``sse-swap="notification,update,stats,reset,refresh" hx-swap="none"``) hands
to htmx. Event names:

* ``notification``: the new item (``afterbegin:#notification-list``) and a toast
  (``beforeend:#toasts``).
* ``update``: each changed item re-rendered in place (read/unread) or removed (delete). Over
  :data:`MAX_PATCH` ids it becomes ``refresh`` instead.
* ``refresh``: the list changed too much to patch; the page re-fetches it (and the badge).
* ``stats``: the badge; the stream sends it after every message that carries stats, on
  connect and after replays.
* ``reset``: the page's cursor was unusable; the page re-fetches its list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app, has_request_context, render_template
from markupsafe import Markup
from sqlalchemy import select

from notifier.bus.base import Message
from notifier.extensions import db
from notifier.models import Notification
from notifier.web.templating import to_datetime

NOTIFICATION = "notification"
UPDATE = "update"
REFRESH = "refresh"
STATS = "stats"
RESET = "reset"
#: Events the page's sink swaps; the list refresher listens to RESET and REFRESH too.
SINK_EVENTS = (NOTIFICATION, UPDATE, STATS, RESET, REFRESH)
#: Above this many ids an update re-fetches the list instead of patching every item.
MAX_PATCH = 50
PRIORITY_LABELS = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}


def item_view(obj: Notification | dict[str, Any]) -> dict[str, Any]:
    """Return the fields the item and toast partials show, from a model or its JSON dict."""
    get: Callable[[str], Any] = (
        functools.partial(getattr, obj) if isinstance(obj, Notification) else obj.get
    )
    tags = get("tags") or []
    priority = get("priority") or "normal"
    return {
        "id": get("id"),
        "type": get("type") or "",
        "title": get("title") or "",
        "body": get("body") or "",
        "priority": priority if priority in PRIORITY_LABELS else "normal",
        "priority_label": PRIORITY_LABELS.get(priority, "Normal"),
        "url": get("url"),
        "tags": list(tags),
        "created_at": to_datetime(get("created_at")),
        "is_read": bool(get("is_read")),
    }


def _render(template: str, **context: Any) -> str:
    """Render a partial; outside a request (the stream) borrow a bare one for url_for."""
    if has_request_context():
        return render_template(template, **context)
    with current_app.test_request_context("/"):
        return render_template(template, **context)


def render_item(
    obj: Notification | dict[str, Any],
    *,
    csrf: str | None = None,
    oob: str | None = None,
    preview: bool = False,
) -> str:
    """Render one list item; ``csrf`` adds no-JS form tokens (pages only, never the stream)."""
    return _render(
        "partials/notification_item.html", n=item_view(obj), csrf=csrf, oob=oob, preview=preview
    )


def badge_oob(stats: dict[str, int] | None) -> str:
    """Render the unread badge as an out-of-band swap (empty when there are no stats)."""
    if not stats:
        return ""
    return _render("partials/badge.html", unread=int(stats.get("unread", 0)), oob=True)


def _items_by_id(user_id: int, ids: Iterable[int]) -> dict[int, Notification]:
    rows = db.session.scalars(
        select(Notification).where(
            Notification.user_id == user_id,
            Notification.id.in_(list(ids)),
            Notification.deleted_at.is_(None),
        )
    )
    return {n.id: n for n in rows}


def update_fragment(
    user_id: int, action: str, ids: list[int], stats: dict[str, int] | None
) -> tuple[str, str]:
    """Return (event, html) that brings a page's copy of ``ids`` to their current state."""
    if len(ids) > MAX_PATCH:
        return REFRESH, badge_oob(stats) or _render("partials/sync_note.html", reason="refresh")
    parts = []
    if action == "delete":
        parts = [_render("partials/item_removed.html", id=i) for i in ids]
    else:
        rows = _items_by_id(user_id, ids)
        parts = [render_item(rows[i], oob="true") for i in ids if i in rows]
    parts.append(badge_oob(stats))
    html = "".join(parts) or _render("partials/sync_note.html", reason=action)
    return UPDATE, html


def render_message(message: Message) -> list[tuple[str, str]]:
    """Return the (SSE event, HTML) pairs for one bus message (the stream calls this)."""
    try:
        if message.event == NOTIFICATION:
            n = item_view(message.data)
            # No badge here: the stream follows every message that has stats with render_stats.
            return [(NOTIFICATION, _render("partials/new_notification.html", n=n))]
        if message.event == UPDATE:
            ids = [int(i) for i in message.data.get("ids", [])]
            action = str(message.data.get("action", ""))
            return [update_fragment(message.user_id, action, ids, None)]
    except Exception:  # a page that cannot be patched is re-synced, never left wrong
        current_app.logger.exception("cannot render %s message %s", message.event, message.cursor)
        return [(REFRESH, _render("partials/sync_note.html", reason="error"))]
    return []


def render_stats(stats: dict[str, int]) -> list[tuple[str, str]]:
    """Return the badge update sent on connect and after a replay."""
    return [(STATS, badge_oob(stats))]


def render_reset(reason: str) -> list[tuple[str, str]]:
    """Tell the page its cursor was unusable: it re-renders its list (and takes its cursor)."""
    return [(RESET, _render("partials/sync_note.html", reason=reason))]


def preview_item(content: dict[str, Any]) -> Markup:
    """Render how a notification with ``content`` will look in the list (admin preview)."""
    return Markup(render_item({**content, "id": 0, "is_read": False}, preview=True))  # noqa: S704
