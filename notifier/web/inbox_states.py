"""The notification center's state controls: archive, snooze, seen reports, groups, density.

Archive, unarchive and snooze take the item out of the list the page shows (every tab shows
either archived or unarchived items, and none shows snoozed ones), so their htmx answer
swaps the item for nothing; other tabs follow through the `update` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, request
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from notifier.i18n import format_local
from notifier.service import NotFound, ValidationError, inbox, states
from notifier.web import bp, fragments, htmx
from notifier.web.inbox import DENSITY_COOKIE, _back, _form_ids, _status_oob

MAX_SEEN = 200
DENSITIES = ("comfortable", "compact")
YEAR = 365 * 24 * 3600


def _gone(text: str) -> Any:
    """Answer an item that leaves the list: htmx swaps it for nothing; no-JS goes back."""
    if not htmx.is_htmx():
        flash(text, "success")
        return _back()
    return fragments.badge_oob(inbox.stats(current_user.id)) + _status_oob(text)


def _ids(nid: int) -> list[int]:
    if request.args.get("group") == "true":
        return states.group_ids(current_user, nid)
    inbox.get(current_user, nid)
    return [nid]


@bp.post("/notifications/<int:nid>/archive")
@login_required
def archive(nid: int) -> Any:
    """Archive one notification (a collapsed group: all of it)."""
    try:
        changed = states.archive(current_user, _ids(nid))
    except NotFound:
        abort(404)
    if len(changed) < 2:
        return _gone(gettext("Archived."))
    return _gone(
        ngettext("%(num)d notification archived.", "%(num)d notifications archived.", len(changed))
    )


@bp.post("/notifications/<int:nid>/unarchive")
@login_required
def unarchive(nid: int) -> Any:
    """Move one archived notification back to the inbox."""
    try:
        states.unarchive(current_user, _ids(nid))
    except NotFound:
        abort(404)
    return _gone(gettext("Moved to the inbox."))


def _snooze_until() -> datetime | None:
    """Return the chosen snooze end (naive UTC): a preset, or a time in the user's zone."""
    preset = request.form.get("preset", "")
    if preset == "at":
        raw = request.form.get("at", "")
        try:
            return states.to_utc(datetime.fromisoformat(raw).replace(tzinfo=None), current_user)
        except (ValueError, OverflowError):  # not a time, or beyond what a datetime holds
            return None
    return states.preset_until(preset, current_user)


@bp.post("/notifications/<int:nid>/snooze")
@login_required
def snooze(nid: int) -> Any:
    """Snooze one notification until a preset or a chosen time."""
    until = _snooze_until()
    try:
        states.snooze(current_user, nid, until)
    except NotFound:
        abort(404)
    except ValidationError:
        text = gettext("Pick a time after now and within 30 days.")
        if not htmx.is_htmx():
            flash(text, "error")
            return _back()
        resp = current_app.make_response(_status_oob(text))
        resp.headers["HX-Reswap"] = "none"  # keep the item where it is
        return resp
    local = states.to_local(until, current_user) if until else None
    if local is None:
        return _gone(gettext("Snoozed."))
    return _gone(gettext("Snoozed until %(time)s.", time=format_local(local, "EEE dd MMM, HH:mm")))


@bp.post("/notifications/seen")
@login_required
def seen() -> Any:
    """Record the items the page showed in a visible list (the page batches them); 204."""
    ids = _form_ids(request.form.getlist("ids"))[:MAX_SEEN]
    states.mark_seen(current_user, ids)
    return "", 204


@bp.post("/notifications/archive-read")
@login_required
def archive_read() -> Any:
    """Archive every read notification; htmx gets the re-rendered list."""
    changed = states.archive_all(current_user, "read")
    text = ngettext(
        "%(num)d read notification archived.", "%(num)d read notifications archived.", changed
    )
    if not htmx.is_htmx():
        flash(text, "success")
        return _back()
    resp = current_app.make_response(_status_oob(text))
    return htmx.trigger(resp, "notifier:refresh")


@bp.get("/notifications/<int:nid>/group")
@login_required
def group_members(nid: int) -> Any:
    """Render the other members of the group the notification heads (the row expands)."""
    try:
        ids = [i for i in states.group_ids(current_user, nid) if i != nid]
    except NotFound:
        abort(404)
    rows = inbox.visible_rows(current_user.id, ids)
    html = "".join(
        fragments.render_item(r, member=True) for r in sorted(rows, key=lambda r: -r["id"])
    )
    return htmx.vary(current_app.make_response(html))


@bp.post("/density")
@login_required
def density() -> Any:
    """Remember the list density (comfortable or compact) in a cookie."""
    value = request.form.get("density", "")
    if value not in DENSITIES:
        abort(400)
    resp = current_app.make_response(("", 204) if htmx.is_htmx() else _back())
    resp.set_cookie(
        DENSITY_COOKIE,
        value,
        max_age=YEAR,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return resp
