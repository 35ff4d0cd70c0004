"""The notification center: list with filters and pagination, item and bulk actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import Notification
from notifier.service import NotFound, ServiceError, clean, inbox, search, states
from notifier.service.content import safe_url
from notifier.timefmt import iso
from notifier.web import bp, fragments, htmx
from notifier.web.inbox_filters import day_bounds, filter_args, page_filters, search_filters
from notifier.web.templating import set_page_state

PAGE_SIZE = 20
ACTION_DONE = {
    "read": "marked read",
    "unread": "marked unread",
    "seen": "marked seen",
    "archive": "archived",
    "unarchive": "moved to the inbox",
    "delete": "deleted",
}
#: The page's sentences per action: whole sentences, so a language can order its words.
ONE_DONE = {
    "read": _l("Notification marked read."),
    "unread": _l("Notification marked unread."),
    "seen": _l("Notification marked seen."),
    "archive": _l("Notification archived."),
    "unarchive": _l("Notification moved to the inbox."),
    "delete": _l("Notification deleted."),
}


def many_done(action: str, count: int) -> str:
    """Return "3 notifications archived." (in the page's language) for a bulk action."""
    if action == "read":
        return ngettext(
            "%(num)d notification marked read.", "%(num)d notifications marked read.", count
        )
    if action == "unread":
        return ngettext(
            "%(num)d notification marked unread.", "%(num)d notifications marked unread.", count
        )
    if action == "seen":
        return ngettext(
            "%(num)d notification marked seen.", "%(num)d notifications marked seen.", count
        )
    if action == "archive":
        return ngettext("%(num)d notification archived.", "%(num)d notifications archived.", count)
    if action == "unarchive":
        return ngettext(
            "%(num)d notification moved to the inbox.",
            "%(num)d notifications moved to the inbox.",
            count,
        )
    return ngettext("%(num)d notification deleted.", "%(num)d notifications deleted.", count)


DENSITY_COOKIE = "notifier_density"


def known_types(user_id: int) -> list[str]:
    """Return the configured types plus every type the user has received, sorted."""
    received = db.session.scalars(
        select(Notification.type).where(Notification.user_id == user_id).distinct()
    )
    return sorted({*current_app.config.get("NOTIFIER_TYPES", ()), *received})


def _page(f: dict[str, str], before: str | None = None) -> inbox.Page:
    try:
        cursor = inbox.parse_before(before)
    except ServiceError:
        abort(400)
    page = inbox.list_page(current_user, limit=PAGE_SIZE, before=cursor, filters=search_filters(f))
    set_page_state(page.cursor, _stats(page))
    return page


def _stats(page: inbox.Page) -> dict[str, int]:
    return page.stats


def _list_context(f: dict[str, str], page: inbox.Page, csrf: str | None) -> dict[str, Any]:
    return {
        "page": page,
        "items": [
            fragments.item_view(n, (page.groups or {}).get(n.group_key or "", 0))
            for n in page.items
        ],
        "filters": f,
        "filter_args": filter_args(f),
        "bounds": [iso(b) or "" for b in day_bounds(f)],
        "csrf": csrf,
        "density": "compact" if request.cookies.get(DENSITY_COOKIE) == "compact" else "comfortable",
    }


@bp.get("/")
@login_required
def index() -> Any:
    """Show the notification center; htmx gets the list or the next page alone."""
    f = page_filters()
    page = _page(f, request.args.get("before"))
    csrf = generate_csrf()
    ctx = _list_context(f, page, csrf)
    if htmx.wants("load-more"):
        return htmx.vary(current_app.make_response(render_template("inbox/_items.html", **ctx)))
    if htmx.wants("inbox-list"):
        html = render_template("inbox/_list.html", **ctx) + fragments.badge_oob(_stats(page))
        return htmx.vary(current_app.make_response(html))
    html = render_template(
        "inbox/index.html",
        types=known_types(current_user.id),
        page_title=gettext("Notifications"),
        active="inbox",
        main_class="has-toast-rail",
        **ctx,
    )
    return htmx.vary(current_app.make_response(html))


def _back() -> Any:
    """Redirect to the page the form was on (same site only), else the inbox."""
    ref = request.referrer or ""
    parts = urlsplit(ref)
    if ref and parts.netloc == request.host and parts.path.startswith("/"):
        return redirect(parts.path + (f"?{parts.query}" if parts.query else ""))
    return redirect(url_for("web.index"))


def _status_oob(text: str) -> str:
    return render_template("inbox/_status.html", text=text)


def _item_action(nid: int, action: str) -> Any:
    try:
        if action == "delete":
            inbox.delete(current_user, nid)
        elif request.args.get("group") == "true":  # a collapsed group: all its members
            n = states.apply_to_group(current_user, nid, action)
        else:
            n = inbox.mark(current_user, nid, read=action == "read")
    except NotFound:
        abort(404)
    if not htmx.is_htmx():
        flash(str(ONE_DONE[action]), "success")
        return _back()
    badge = fragments.badge_oob(inbox.stats(current_user.id))
    if action == "delete":
        return badge + _status_oob(gettext("Notification deleted."))
    return render_kept_item(n) + badge


def render_kept_item(n: Notification) -> str:
    """Render an item the page keeps, with the group count its row showed (if any)."""
    if request.args.get("group") == "true" and n.group_key:
        f = search.Filters(status="archived" if n.archived_at else "all")
        counts = search.group_counts(search.conditions(current_user.id, f), {n.group_key})
        return fragments.render_item(n, group_count=counts.get(n.group_key, 0))
    return fragments.render_item(n)


@bp.post("/notifications/<int:nid>/read")
@login_required
def mark_read(nid: int) -> Any:
    """Mark one notification read."""
    return _item_action(nid, "read")


@bp.post("/notifications/<int:nid>/unread")
@login_required
def mark_unread(nid: int) -> Any:
    """Mark one notification unread."""
    return _item_action(nid, "unread")


@bp.post("/notifications/<int:nid>/delete")
@login_required
def delete_notification(nid: int) -> Any:
    """Delete one notification."""
    return _item_action(nid, "delete")


@bp.get("/notifications/<int:nid>/open")
@login_required
def open_notification(nid: int) -> Any:
    """Mark a notification read and follow its link (the list's and the toast's click)."""
    try:
        n = inbox.mark(current_user, nid, read=True)
    except NotFound:
        abort(404)
    # n.url was checked by content.safe_url when it was sent; checked again because rows
    # stored before that check refused control characters could lead off-site.
    if n.url and safe_url(n.url):
        return redirect(n.url)
    return redirect(url_for("web.index", _anchor=f"n-{nid}"))


@bp.post("/notifications/read-all")
@login_required
def read_all() -> Any:
    """Mark every notification read; htmx gets the re-rendered list."""
    changed = inbox.read_all(current_user)
    text = many_done("read", changed)
    if not htmx.is_htmx():
        flash(text, "success")
        return _back()
    f = page_filters()
    page = _page(f)
    html = render_template("inbox/_list.html", **_list_context(f, page, None))
    return html + fragments.badge_oob(_stats(page)) + _status_oob(text)


def _form_ids(raw: list[str]) -> list[int]:
    """Parse the selected ids; 400 for one that is not an ASCII decimal id in range."""
    ids = [clean.parse_decimal(i) for i in raw]
    if not all(clean.is_id(i, Notification.id) for i in ids):
        abort(400)
    return [i for i in ids if i is not None]


@bp.post("/notifications/bulk")
@login_required
def bulk() -> Any:
    """Apply read, unread or delete to the selected notifications."""
    action = request.form.get("action", "")
    ids = _form_ids(request.form.getlist("ids"))
    if action not in ACTION_DONE:
        abort(400)
    if not ids:
        text = gettext("Select notifications first.")
        if not htmx.is_htmx():
            flash(text, "error")
            return _back()
        return _status_oob(text)
    updated, missing = inbox.bulk(current_user, action, ids)
    text = many_done(action, updated)
    if not htmx.is_htmx():
        flash(text, "success")
        return _back()
    found = [i for i in dict.fromkeys(ids) if i not in set(missing)]
    patch = action != "delete" and len(found) <= fragments.MAX_PATCH
    rows = inbox.visible_rows(current_user.id, found) if patch else []
    event, html = fragments.update_fragment(action, found, rows, inbox.stats(current_user.id))
    resp = current_app.make_response(html + _status_oob(text))
    if event == fragments.REFRESH:
        htmx.trigger(resp, "notifier:refresh")
    return resp
