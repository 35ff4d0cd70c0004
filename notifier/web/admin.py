"""The admin dashboard: live connection stats, deliveries and retries, dead letters, send form.

The live parts are self-polling fragments (the htmx contact-app pattern): the page renders
``admin/_live.html`` and ``admin/_panels.html`` in place, and each element re-fetches its own
partial with ``hx-trigger="every Ns"`` from :func:`admin_live` / :func:`admin_panels`. Every
poll is an ordinary authenticated request: no stream to count, close or reap, and signing out
ends it at the next poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import select

from notifier import node_stats
from notifier.auth import admin_required
from notifier.extensions import db, state
from notifier.models import User, utcnow
from notifier.service import NotFound, ValidationError, deliveries, screen
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from notifier.service.failures import printable
from notifier.service.schedule import failed as failed_scheduled
from notifier.web import bp, fragments, htmx
from notifier.web.forms import RetryForm, SendForm

STAT_KEYS = (
    "connects_per_min",
    "disconnects_per_min",
    "resumes_per_min",
    "broadcasts_per_sec",
    "slow_drops",
    "replayed_events",
    "bus_reconnects",
)
TOP_USERS = 20
F = TypeVar("F", bound=Callable[..., Any])


def _worst(instances: list[dict[str, Any]], key: str) -> float | None:
    values = [i[key] for i in instances if i.get(key) is not None]
    return max(values) if values else None


def _weighted_age(instances: list[dict[str, Any]], total: int) -> float:
    ages = sum(
        float(i.get("avg_connection_age") or 0) * int(i.get("connections") or 0) for i in instances
    )
    return ages / total if total else 0.0


def collect(app: Flask, tenant_id: int) -> dict[str, Any]:
    """Sum the per-process stats and name the top users of the admin's own tenant."""
    # Every process when Redis is on, else this one; connection figures of this tenant only.
    instances = node_stats.tenant_view(node_stats.cluster_stats(app), tenant_id)
    total = sum(int(i.get("connections") or 0) for i in instances)
    out: dict[str, Any] = {
        "instances": instances,
        "connections": total,
        "users_online": sum(int(i.get("users_online") or 0) for i in instances),
        "avg_connection_age": _weighted_age(instances, total),
        "mode": state(app).broker.mode,
        "redis_available": state(app).broker.available(),
        # The slowest process is the honest cluster figure for a percentile.
        "latency_p50_ms": _worst(instances, "latency_p50_ms"),
        "latency_p99_ms": _worst(instances, "latency_p99_ms"),
        "updated_at": time.strftime("%H:%M:%S", time.gmtime()),
    }
    for key in STAT_KEYS:
        values = [i.get(key) for i in instances if i.get(key) is not None]
        out[key] = sum(values) if values else None
    by_user: dict[int, int] = {}
    for i in instances:
        for row in i.get("top_users") or []:
            uid = int(row["user_id"])
            by_user[uid] = by_user.get(uid, 0) + int(row["connections"])
    # tenant_view kept this tenant's users only; the query below checks it again.
    emails = dict(
        db.session.execute(
            select(User.id, User.email).where(
                User.id.in_(list(by_user)), User.tenant_id == tenant_id
            )
        ).all()
    )
    ranked = sorted(((n, emails[u]) for u, n in by_user.items() if u in emails), reverse=True)
    out["top_users"] = [{"email": e, "connections": n} for n, e in ranked[:TOP_USERS]]
    return out


def _panels(tenant_id: int) -> dict[str, Any]:
    hours = deliveries.notifications_per_hour(tenant_id)
    queue = _printable_rows(deliveries.queued(tenant_id), "title", "last_error")
    return {
        "counts": deliveries.counts_by_channel(tenant_id),
        "queue": queue,
        "hours": hours,
        "hours_max": max((n for _, n in hours), default=0),
        "screen": screen.percentiles(tenant_id, utcnow() - timedelta(hours=24)),
    }


@bp.get("/admin")
@admin_required
def admin() -> Any:
    """Show the dashboard and the send form."""
    return _page(SendForm())


def _page(form: SendForm, *, preview: str | None = None, status: int = 200) -> Any:
    tid = current_user.tenant_id
    html = render_template(
        "admin/index.html",
        page_title=gettext("Admin"),
        active="admin",
        stats=collect(current_app, tid),
        form=form,
        preview=preview,
        dead=_printable_rows(deliveries.dead_letters(tid), "title", "last_error"),
        failed_scheduled=failed_scheduled(tid),
        **_panels(tid),
    )
    return current_app.make_response((html, status))


def _printable_rows(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Escape lone surrogates and NUL in the given fields: a poisoned row must still show."""
    return [{**r, **{k: printable(r[k]) for k in keys if r.get(k) is not None}} for r in rows]


def polled(fn: F) -> F:
    """Guard a fragment the dashboard polls: admins only, and a signed-out tab goes to login.

    Each poll is an ordinary request, so signing out ends the live view at the next one. htmx
    would follow the login redirect and swap the login page into the panel; an htmx poll
    without a session gets 401 with HX-Redirect instead, and htmx takes the whole tab there.
    """

    guarded = admin_required(fn)

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if htmx.is_htmx() and not current_user.is_authenticated:
            resp = current_app.make_response(("", 401))
            resp.headers["HX-Redirect"] = url_for("web.login", next=url_for("web.admin"))
            return resp
        return guarded(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.get("/admin/live")
@polled
def admin_live() -> Any:
    """Render the live stats partial; the dashboard polls it every 2 s (hx-trigger)."""
    html = render_template("admin/_live.html", stats=collect(current_app, current_user.tenant_id))
    return _fragment(html)


@bp.get("/admin/panels")
@polled
def admin_panels() -> Any:
    """Render deliveries by status, the retry queue and the chart; polled every 10 s."""
    return _fragment(render_template("admin/_panels.html", **_panels(current_user.tenant_id)))


def _fragment(html: str) -> Any:
    resp = current_app.make_response(html)
    resp.headers["Cache-Control"] = "no-store"  # always fresh figures, never a cached poll
    return htmx.vary(resp)


def _content(form: SendForm) -> dict[str, Any]:
    """Validate the form's notification fields through the service; errors go on the form."""
    try:
        return validate_content(
            {
                "type": form.type.data,
                "title": form.title.data or "",
                "body": form.body.data or "",
                "priority": form.priority.data,
                "url": form.url.data or None,
            }
        )
    except ValidationError as exc:
        for key, message in exc.fields.items():
            field = getattr(form, key, None)
            if field is not None:
                field.errors = [*field.errors, message]
        raise


def _recipients(form: SendForm) -> list[int]:
    tid = current_user.tenant_id
    if form.audience.data == "tenant":
        return notify_svc.resolve_recipients(tid, {"tenant": True})
    emails = form.recipient_emails()
    problem = None
    if not emails:
        problem = gettext("Enter at least one email.")
    elif form.audience.data == "user" and len(emails) > 1:
        problem = gettext("One email only, or choose “Several users”.")
    ids, unknown = [], []
    for email in emails if problem is None else []:
        try:
            ids += notify_svc.resolve_recipients(tid, {"email": email})
        except ValidationError:
            unknown.append(email)
    if unknown:
        problem = gettext("No user in your tenant with: %(emails)s", emails=", ".join(unknown[:10]))
    if problem:
        form.emails.errors = [*form.emails.errors, problem]
        raise ValidationError(problem)
    return list(dict.fromkeys(ids))


@bp.post("/admin/send")
@admin_required
def admin_send() -> Any:
    """Send a notification to one user, several, or the whole tenant."""
    form = SendForm()
    try:
        if not form.validate_on_submit():
            raise ValidationError("invalid form")
        content = _content(form)
        ids = _recipients(form)
        result = notify_svc.notify(current_user.tenant_id, content, ids, sender_id=current_user.id)
    except ValidationError as exc:
        if not form.errors:  # the type's template needs data this form cannot give (§10)
            form.type.errors = [*form.type.errors, exc.message]
        if htmx.is_htmx():
            return render_template("admin/_send_form.html", form=form), 422
        return _page(form, status=422)
    text = ngettext("Sent to %(num)d person.", "Sent to %(num)d people.", len(ids))
    if result.errors:
        failed = "; ".join(f"{k}: {v}" for k, v in result.errors.items())
        text += " " + gettext("Not delivered: %(errors)s", errors=failed)
    if not htmx.is_htmx():
        flash(text, "success")
        return redirect(url_for("web.admin"))
    fresh = SendForm(formdata=None, audience=form.audience.data, emails=form.emails.data)
    return render_template("admin/_send_form.html", form=fresh, sent=text)


@bp.post("/admin/preview")
@admin_required
def admin_preview() -> Any:
    """Render the notification as its recipients will see it in their list."""
    form = SendForm()
    try:
        html = render_template("admin/_preview.html", item=fragments.preview_item(_content(form)))
    except ValidationError:
        html = render_template("admin/_preview_empty.html")
    if htmx.is_htmx():
        return html
    return _page(form, preview=html)


@bp.post("/admin/dead-letters/<int:delivery_id>/retry")
@admin_required
def admin_retry(delivery_id: int) -> Any:
    """Put a dead delivery back in the queue."""
    if not RetryForm().validate_on_submit():
        abort(400)
    try:
        deliveries.retry(current_user.tenant_id, delivery_id)
    except NotFound:
        abort(404)
    if htmx.is_htmx():
        # The whole section again, not one row: the rest of the table stays as it is.
        dead = _printable_rows(
            deliveries.dead_letters(current_user.tenant_id), "title", "last_error"
        )
        return render_template("admin/_dead_letters.html", dead=dead, retried=delivery_id)
    flash(gettext("Delivery %(id)s queued for retry.", id=delivery_id), "success")
    return redirect(url_for("web.admin"))
