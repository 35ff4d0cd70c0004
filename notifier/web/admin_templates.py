"""Admin screen for notification templates (CONTRACT §10) and the tenant's email branding.

The edit form previews as you type: htmx posts it to :func:`admin_template_preview` on every
change, which renders each arm for the template's channel from the sample data and puts the
service's complaints next to their fields (out-of-band swaps), without saving anything. The
email's HTML is shown in a sandboxed frame fed by :func:`admin_template_email`: it needs its
own CSP (inline styles, https images), which the page's must not grant.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from notifier.auth import admin_required
from notifier.service import NotFound, ValidationError, branding, templates
from notifier.service.content import validate_content
from notifier.service.errors import Conflict
from notifier.service.template_preview import Preview, preview
from notifier.web import bp, htmx
from notifier.web.admin_forms import ActionForm
from notifier.web.admin_template_forms import BrandingForm, TemplateForm
from notifier.web.fragments import preview_item

FORM_FIELDS = ("type", "channel", "locale", "title", "body", "subject", "html", "variants")
# The email frame's own policy: no scripts, no requests but https images, inline styles.
FRAME_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'"
)


def _put_errors(form: TemplateForm, errors: dict[str, str]) -> None:
    """Put the service's messages on the form's fields ("variants.0.title" on variants)."""
    for key, message in errors.items():
        name = key.split(".")[0]
        field = getattr(form, name if name in (*FORM_FIELDS, "sample") else "title")
        if message not in field.errors:
            field.errors = [*field.errors, f"{key}: {message}" if "." in key else message]


def _csrf_or_400(form: TemplateForm) -> None:
    """Refuse a post without a valid CSRF token; other field errors are the form's to show."""
    if "csrf_token" in form.errors:
        abort(400)


def _list_page(brand_form: BrandingForm | None = None, status: int = 200) -> Any:
    tenant = current_user.tenant
    if brand_form is None:
        brand_form = BrandingForm(formdata=None)
        brand_form.brand_color.data = tenant.brand_color or ""
        brand_form.logo_url.data = tenant.logo_url or ""
    html = render_template(
        "admin/templates.html",
        page_title=_("Templates · Admin"),
        active="admin",
        section="templates",
        rows=templates.list_for(current_user.tenant_id),
        brand_form=brand_form,
        action=ActionForm(formdata=None),
    )
    return current_app.make_response((html, status))


def _edit_page(form: TemplateForm, row_id: int | None, status: int = 200) -> Any:
    shown = _preview(form) if form.type.data or row_id else None
    html = render_template(
        "admin/template_edit.html",
        page_title=_("Edit template · Admin") if row_id else _("New template · Admin"),
        active="admin",
        section="templates",
        form=form,
        row_id=row_id,
        preview=shown,
    )
    return current_app.make_response((html, status))


def _preview(form: TemplateForm) -> Preview:
    doc = form.doc()
    shown = preview(doc, form.sample.data, current_user, current_user.tenant)
    if form.variants.errors:
        shown.arms = []
    return shown


@bp.get("/admin/templates")
@admin_required
def admin_templates() -> Any:
    """List the tenant's templates and its email branding."""
    return _list_page()


@bp.post("/admin/templates/branding")
@admin_required
def admin_branding() -> Any:
    """Set the brand colour and logo of the tenant's emails."""
    form = BrandingForm()
    if not form.validate_on_submit():
        return _list_page(form, 422)
    try:
        branding.set_branding(current_user.tenant_id, form.brand_color.data, form.logo_url.data)
    except ValidationError as exc:
        for key, message in exc.fields.items():
            getattr(form, key).errors = [message]
        return _list_page(form, 422)
    flash(_("Email branding saved."), "success")
    return redirect(url_for("web.admin_templates"))


@bp.route("/admin/templates/new", methods=["GET", "POST"])
@admin_required
def admin_template_new() -> Any:
    """Show an empty template form; on POST, save it or show its errors by the fields."""
    return _save(TemplateForm(), None)


@bp.route("/admin/templates/<int:template_id>", methods=["GET", "POST"])
@admin_required
def admin_template_edit(template_id: int) -> Any:
    """Edit one of the tenant's templates (404 for another tenant's)."""
    try:
        row = templates.get(current_user.tenant_id, template_id)
    except NotFound:
        abort(404)
    form = TemplateForm()
    if not form.is_submitted():
        form.fill(row)
    return _save(form, row.id)


def _save(form: TemplateForm, row_id: int | None) -> Any:
    if not form.is_submitted():
        return _edit_page(form, row_id)
    if not form.validate():
        _csrf_or_400(form)
        return _edit_page(form, row_id, 422)
    doc = form.doc()
    if form.variants.errors:
        return _edit_page(form, row_id, 422)
    try:
        templates.save(current_user.tenant_id, doc, row_id)
    except ValidationError as exc:
        _put_errors(form, exc.fields)
        return _edit_page(form, row_id, 422)
    except Conflict as exc:
        _put_errors(form, exc.fields)
        return _edit_page(form, row_id, 409)
    flash(_("Template saved."), "success")
    return redirect(url_for("web.admin_templates"))


@bp.post("/admin/templates/<int:template_id>/delete")
@admin_required
def admin_template_delete(template_id: int) -> Any:
    """Delete a template; publishes of its type fall back to their own text."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        templates.delete(current_user.tenant_id, template_id)
    except NotFound:
        abort(404)
    flash(_("Template deleted."), "success")
    return redirect(url_for("web.admin_templates"))


@bp.post("/admin/templates/preview")
@admin_required
def admin_template_preview() -> Any:
    """Render the preview panel and each field's errors (out of band) from the posted form."""
    form = TemplateForm()
    if not form.validate():
        _csrf_or_400(form)
    shown = _preview(form)
    _put_errors(form, shown.errors)
    html = render_template(
        "admin/_template_preview.html",
        preview=shown,
        form=form,
        item=_inbox_item(form, shown),
        oob=htmx.is_htmx(),
    )
    return htmx.vary(current_app.make_response(html))


@bp.post("/admin/templates/preview/email")
@admin_required
def admin_template_email() -> Any:
    """Answer the email frame with the rendered message, under the frame's own CSP."""
    form = TemplateForm()
    if not form.validate():
        _csrf_or_400(form)
    shown = _preview(form)
    arm = shown.arms[0] if shown.arms else None
    html = (
        arm.email_html
        if arm and arm.email_html
        else render_template("admin/_template_email_empty.html", preview=shown)
    )
    resp = current_app.make_response(html)
    resp.headers["Content-Security-Policy"] = FRAME_CSP
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _inbox_item(form: TemplateForm, shown: Preview) -> Any:
    """Return the in-app preview as the inbox list renders it (None for other channels)."""
    if shown.channel != "in_app" or not shown.arms:
        return None
    fields = shown.arms[0].fields
    try:
        content = validate_content(
            {
                "type": (form.type.data or "").strip(),
                "title": fields.get("title") or _("(the publish's title)"),
                "body": fields.get("body") or "",
            }
        )
    except ValidationError:  # the type's error is on its field already
        return None
    return preview_item(content)
