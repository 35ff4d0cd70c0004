"""Admin screen for scheduled sends: pending ones (cancel), failed ones (retry, dismiss)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from notifier.auth import admin_required
from notifier.service import NotFound, scheduled
from notifier.service.errors import Conflict
from notifier.web import bp
from notifier.web.admin_forms import ActionForm

PAGE = 100


@bp.get("/admin/scheduled")
@admin_required
def admin_scheduled() -> Any:
    """List the tenant's pending and failed scheduled sends."""
    tid = current_user.tenant_id
    pending, more_pending = scheduled.list_for(tid, status="scheduled", limit=PAGE)
    failed, more_failed = scheduled.list_for(tid, status="failed", limit=PAGE)
    html = render_template(
        "admin/scheduled.html",
        page_title=gettext("Scheduled") + " · " + gettext("Admin"),
        active="admin",
        section="scheduled",
        pending=[scheduled.scheduled_dict(r) for r in pending],
        failed=[scheduled.scheduled_dict(r) for r in failed],
        more=bool(more_pending or more_failed),
        action=ActionForm(formdata=None),
    )
    return current_app.make_response(html)


def _act(fn: Callable[[int, int], None], sid: int, done: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        fn(current_user.tenant_id, sid)
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(
            gettext("Scheduled send %(id)s: nothing done, %(reason)s.", id=sid, reason=exc.message),
            "error",
        )
        return redirect(url_for("web.admin_scheduled"))
    flash(done % {"id": sid}, "success")
    return redirect(url_for("web.admin_scheduled"))


@bp.post("/admin/scheduled/<int:scheduled_id>/cancel")
@admin_required
def admin_scheduled_cancel(scheduled_id: int) -> Any:
    """Cancel a send before it goes out."""
    return _act(scheduled.cancel, scheduled_id, gettext("Scheduled send %(id)s cancelled."))


@bp.post("/admin/scheduled/<int:scheduled_id>/retry")
@admin_required
def admin_scheduled_retry(scheduled_id: int) -> Any:
    """Queue a failed send again, due now."""
    done = gettext("Scheduled send %(id)s queued again; it goes out within seconds.")
    return _act(scheduled.retry, scheduled_id, done)


@bp.post("/admin/scheduled/<int:scheduled_id>/dismiss")
@admin_required
def admin_scheduled_dismiss(scheduled_id: int) -> Any:
    """Take a failed send off the list without sending it."""
    return _act(scheduled.dismiss, scheduled_id, gettext("Scheduled send %(id)s dismissed."))
