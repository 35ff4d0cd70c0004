"""Render the HTML fragments the page swaps in: list items, toasts, the badge, SSE messages.

One partial, three callers: ``partials/notification_item.html`` renders the page's list, the
htmx answers to item actions and the SSE messages. The stream renders through
:class:`Fragments` (wrapped by ``web/renderer.py``'s HtmlRenderer) once per message per
process, with no request and no query: the message carries what it shows (``data``, the
update's ``rows``, ``stats``). So nothing there may depend on the connection (no filters,
no CSRF token, no session): each page adapts the
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

from collections.abc import Callable
from typing import Any

from flask import Flask, render_template
from jinja2.ext import _make_new_ngettext
from markupsafe import Markup
from werkzeug.routing import MapAdapter

from notifier import i18n
from notifier.bus.base import Message
from notifier.models import Notification
from notifier.service.inbox import ROWS_MAX
from notifier.service.serialize import notification_dict
from notifier.web.templating import SINK_EVENTS, to_datetime

NOTIFICATION = "notification"
UPDATE = "update"
REFRESH = "refresh"
STATS = "stats"
RESET = "reset"
assert SINK_EVENTS == (NOTIFICATION, UPDATE, STATS, RESET, REFRESH)  # templating's copy
#: Above this many ids an update re-fetches the list instead of patching every item (the
#: writer attaches the changed rows to an update up to the same number).
MAX_PATCH = ROWS_MAX
#: The bell, the badge and the title count unread notifications (not unseen ones): an item
#: stays counted until it is read, however often it was shown (README "The inbox").
BELL_COUNTS = "unread"
#: English; the partials translate them (``_(n.priority_label)``) in the page's language.
PRIORITY_LABELS = {
    "low": i18n.N_("Low"),
    "normal": i18n.N_("Normal"),
    "high": i18n.N_("High"),
    "urgent": i18n.N_("Urgent"),
}


def item_view(obj: Notification | dict[str, Any], group_count: int = 0) -> dict[str, Any]:
    """Return the fields the item and toast partials show, from a model or its JSON dict.

    A model goes through ``notification_dict`` first: one shape in, whoever renders.
    ``group_count``: how many items the row stands for when the list is grouped (the page
    knows it; a streamed row does not, and the page keeps the count it shows).
    """
    data = notification_dict(obj) if isinstance(obj, Notification) else obj
    priority = data.get("priority") or "normal"
    return {
        "id": data.get("id"),
        "type": data.get("type") or "",
        "title": data.get("title") or "",
        "body": data.get("body") or "",
        "priority": priority if priority in PRIORITY_LABELS else "normal",
        "priority_label": PRIORITY_LABELS.get(priority, "Normal"),
        "url": data.get("url"),
        "tags": list(data.get("tags") or []),
        "created_at": to_datetime(data.get("created_at")),
        "is_read": bool(data.get("is_read")),
        "is_seen": bool(data.get("seen_at")),
        "is_archived": bool(data.get("archived_at")),
        "is_snoozed": bool(data.get("snoozed_until")),
        "group_key": data.get("group_key"),
        "group_count": group_count,
        "actions": list(data.get("actions") or []),
    }


Render = Callable[..., str]


def _page_render(template: str, **context: Any) -> str:
    """Render a partial for a page's own answer (inside its request)."""
    return render_template(template, **context)


def render_item(
    obj: Notification | dict[str, Any],
    *,
    csrf: str | None = None,
    oob: str | None = None,
    preview: bool = False,
    render: Render = _page_render,
    group_count: int = 0,
    member: bool = False,
) -> str:
    """Render one list item; ``csrf`` adds no-JS form tokens (pages only, never the stream)."""
    return render(
        "partials/notification_item.html",
        n=item_view(obj, group_count),
        csrf=csrf,
        oob=oob,
        preview=preview,
        member=member,
    )


def badge_oob(stats: dict[str, int] | None, render: Render = _page_render) -> str:
    """Render the unread badge as an out-of-band swap (empty when there are no stats)."""
    if not stats:
        return ""
    return render("partials/badge.html", unread=int(stats.get(BELL_COUNTS, 0)), oob=True)


def update_fragment(
    action: str,
    ids: list[int],
    rows: list[dict[str, Any]] | None,
    stats: dict[str, int] | None,
    render: Render = _page_render,
) -> tuple[str, str]:
    """Return (event, html) that brings a page's copy of ``ids`` to ``rows`` (their new state).

    ``rows`` are the changed notifications still visible (the update message carries them);
    an id without a row is left alone.
    """
    if len(ids) > MAX_PATCH:
        return REFRESH, badge_oob(stats, render) or render(
            "partials/sync_note.html", reason="refresh"
        )
    parts = []
    if action == "delete":
        parts = [render("partials/item_removed.html", id=i) for i in ids]
    else:
        by_id = {int(r["id"]): r for r in rows or ()}
        parts = [render_item(by_id[i], oob="true", render=render) for i in ids if i in by_id]
    parts.append(badge_oob(stats, render))
    html = "".join(parts) or render("partials/sync_note.html", reason=action)
    return UPDATE, html


def _cached_gettext(translate: Callable[[str], str]) -> Callable[..., Markup]:
    """Jinja's newstyle ``gettext`` over one catalog, remembering the plain (no-variable) ones.

    The stream renders every message's item with some 25 strings, most without variables;
    remembering their escaped translation keeps the render near its cost before translation.
    Only for the autoescaped .html partials the stream renders (as Jinja's own, the result
    is Markup and the variables are escaped into it).
    """
    plain: dict[str, Markup] = {}

    def gettext(message: str, **variables: Any) -> Markup:
        if variables:
            return Markup(translate(message)) % variables  # noqa: S704 - the catalog is ours
        hit = plain.get(message)
        if hit is None:
            hit = plain[message] = Markup(translate(message)) % {}  # noqa: S704
        return hit

    return gettext


class Fragments:
    """Render what the stream sends, once per message per process, without any request.

    Templates render straight from the app's Jinja environment; ``url_for`` is a
    :class:`~werkzeug.routing.MapAdapter` bound once to the app's URL map, configured as
    Flask binds one outside a request (SERVER_NAME, APPLICATION_ROOT, PREFERRED_URL_SCHEME),
    so links are the same relative paths the pages render. One instance per page language:
    the templates' ``_``/``gettext``/``ngettext`` come from that language's catalog, loaded
    once here (Flask-Babel's own would need an app context and look the catalog up per call).
    """

    def __init__(self, app: Flask, locale: str = "en") -> None:
        cfg = app.config
        catalog = i18n.translations(locale)
        gettext = _cached_gettext(catalog.gettext)
        self.words: dict[str, Callable[..., str]] = {"_": gettext, "gettext": gettext}
        self.words["ngettext"] = _make_new_ngettext(catalog.ngettext)
        self.env = app.jinja_env
        self.logger = app.logger
        self.urls: MapAdapter = app.url_map.bind(
            cfg.get("SERVER_NAME") or "localhost",
            script_name=cfg.get("APPLICATION_ROOT") or "/",
            url_scheme=cfg.get("PREFERRED_URL_SCHEME") or "http",
        )

    def url_for(self, endpoint: str, **values: Any) -> str:
        """Build a relative URL for ``endpoint`` (the templates' ``url_for``)."""
        return self.urls.build(endpoint, values)

    def render(self, template: str, **context: Any) -> str:
        """Render a partial with this object's ``url_for``, in this object's language."""
        tpl = self.env.get_template(template)
        return tpl.render(url_for=self.url_for, **self.words, **context)

    def render_message(self, message: Message) -> list[tuple[str, str]]:
        """Return the (SSE event, HTML) pairs for one bus message (the stream calls this)."""
        try:
            if message.event == NOTIFICATION:
                n = item_view(message.data)
                # No badge here: the stream follows every message that has stats with stats.
                return [(NOTIFICATION, self.render("partials/new_notification.html", n=n))]
            if message.event == UPDATE:
                ids = [int(i) for i in message.data.get("ids", [])]
                action = str(message.data.get("action", ""))
                return [update_fragment(action, ids, message.rows, None, self.render)]
        except Exception:  # a page that cannot be patched is re-synced, never left wrong
            self.logger.exception("cannot render %s message %s", message.event, message.cursor)
            return [(REFRESH, self.render("partials/sync_note.html", reason="error"))]
        return []

    def render_stats(self, stats: dict[str, int]) -> list[tuple[str, str]]:
        """Return the badge update sent on connect and after a replay."""
        return [(STATS, badge_oob(stats, self.render))]

    def render_reset(self, reason: str) -> list[tuple[str, str]]:
        """Tell the page its cursor was unusable: it re-renders its list (and its cursor)."""
        return [(RESET, self.render("partials/sync_note.html", reason=reason))]


def preview_item(content: dict[str, Any]) -> Markup:
    """Render how a notification with ``content`` will look in the list (admin preview)."""
    return Markup(render_item({**content, "id": 0, "is_read": False}, preview=True))  # noqa: S704
