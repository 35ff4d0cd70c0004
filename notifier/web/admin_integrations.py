"""Admin screen for where notifications leave: webhook endpoints and Slack/Discord integrations.

Each endpoint shows its last deliveries with their status; "Send test" queues a test message
that the delivery worker sends like any other (retries, dead letters, SSRF guard), and the
deliveries panel polls itself (``hx-trigger="every 5s"``) so the result appears without a
reload. URLs of chat integrations are secrets: the page shows only their hint.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from notifier.auth import admin_required
from notifier.channels.chat import url_hint, validate_chat_url
from notifier.channels.webhook import validate_webhook_url
from notifier.service import NotFound, ValidationError, integrations, tenant_admin, webhooks
from notifier.web import bp, htmx
from notifier.web.admin import polled
from notifier.web.admin_forms import ActionForm, NewIntegrationForm, NewWebhookForm, split_types

Kind = Literal["webhook", "chat"]


def _endpoints(tid: int) -> dict[str, Any]:
    hooks = [
        {"row": w, "recent": tenant_admin.recent(tid, "webhook", w.id)}
        for w in webhooks.list_webhooks(tid)
    ]
    chats = [
        {"row": c, "hint": url_hint(c.url), "recent": tenant_admin.recent(tid, "chat", c.id)}
        for c in integrations.list_for(tid)
    ]
    return {"hooks": hooks, "chats": chats}


def _page(
    *,
    hook_form: NewWebhookForm | None = None,
    chat_form: NewIntegrationForm | None = None,
    secret: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    html = render_template(
        "admin/integrations.html",
        page_title=gettext("Webhooks and chat") + " · " + gettext("Admin"),
        active="admin",
        section="integrations",
        hook_form=hook_form or NewWebhookForm(formdata=None),
        chat_form=chat_form or NewIntegrationForm(formdata=None),
        action=ActionForm(formdata=None),
        shown=secret,
        **_endpoints(current_user.tenant_id),
    )
    return current_app.make_response((html, status))


def _allow_private() -> bool:
    return bool(current_app.config.get("NOTIFIER_WEBHOOK_ALLOW_PRIVATE"))


@bp.get("/admin/integrations")
@admin_required
def admin_integrations() -> Any:
    """List webhooks and chat integrations with their last deliveries."""
    return _page()


@bp.get("/admin/integrations/deliveries")
@polled
def admin_integrations_deliveries() -> Any:
    """Render the endpoints' delivery tables; the page polls this every 5 s."""
    html = render_template("admin/_endpoint_deliveries.html", **_endpoints(current_user.tenant_id))
    resp = current_app.make_response(html)
    resp.headers["Cache-Control"] = "no-store"
    return htmx.vary(resp)


@bp.post("/admin/webhooks")
@admin_required
def admin_webhook_create() -> Any:
    """Register a webhook endpoint; its signing secret is shown once."""
    form = NewWebhookForm()
    if not form.validate_on_submit():
        return _page(hook_form=form, status=422)
    try:
        row = webhooks.create_webhook(
            current_user.tenant_id,
            form.url.data,
            split_types(form.types.data),
            check_url=partial(validate_webhook_url, allow_private=_allow_private()),
        )
    except ValidationError as exc:
        for key, message in exc.fields.items():
            field = getattr(form, key, None)
            if field is not None:
                field.errors = [*field.errors, message]
        return _page(hook_form=form, status=422)
    shown = {
        "label": gettext("Webhook %(url)s added.", url=row.url),
        "secret": row.secret,
        "what": gettext("Its signing secret (shown once)"),
    }
    return _page(secret=shown, status=201)


@bp.post("/admin/chat")
@admin_required
def admin_chat_create() -> Any:
    """Register a Slack or Discord incoming webhook."""
    form = NewIntegrationForm()
    if not form.validate_on_submit():
        return _page(chat_form=form, status=422)
    doc = {"kind": form.kind.data, "url": form.url.data, "types": split_types(form.types.data)}
    try:
        row = integrations.create(
            current_user.tenant_id,
            doc,
            check_url=partial(validate_chat_url, allow_private=_allow_private()),
        )
    except ValidationError as exc:
        for key, message in exc.fields.items():
            field = getattr(form, key, None)
            if field is not None:
                field.errors = [*field.errors, message]
        return _page(chat_form=form, status=422)
    flash(
        gettext(
            "%(kind)s integration %(url)s added.", kind=row.kind.capitalize(), url=url_hint(row.url)
        ),
        "success",
    )
    return redirect(url_for("web.admin_integrations"))


def _checked() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.post("/admin/webhooks/<int:webhook_id>/delete")
@admin_required
def admin_webhook_delete(webhook_id: int) -> Any:
    """Retire a webhook endpoint of the tenant."""
    _checked()
    try:
        webhooks.delete_webhook(current_user.tenant_id, webhook_id)
    except NotFound:
        abort(404)
    return _done(gettext("Webhook removed."))


@bp.post("/admin/chat/<int:integration_id>/delete")
@admin_required
def admin_chat_delete(integration_id: int) -> Any:
    """Retire a chat integration of the tenant."""
    _checked()
    try:
        integrations.delete(current_user.tenant_id, integration_id)
    except NotFound:
        abort(404)
    return _done(gettext("Integration removed."))


@bp.post("/admin/webhooks/<int:webhook_id>/test")
@admin_required
def admin_webhook_test(webhook_id: int) -> Any:
    """Queue a test delivery to a webhook endpoint."""
    return _test("webhook", webhook_id)


@bp.post("/admin/chat/<int:integration_id>/test")
@admin_required
def admin_chat_test(integration_id: int) -> Any:
    """Queue a test message to a chat integration."""
    return _test("chat", integration_id)


def _test(kind: Kind, target_id: int) -> Any:
    _checked()
    try:
        row = tenant_admin.send_test(current_user.tenant_id, kind, target_id, sender=current_user)
    except NotFound:
        abort(404)
    return _done(
        gettext("Test message queued (delivery %(id)s); its status shows below.", id=row.id)
    )


def _done(message: str) -> Any:
    # Post/redirect/get: a reload never repeats the action.
    flash(message, "success")
    return redirect(url_for("web.admin_integrations"))
