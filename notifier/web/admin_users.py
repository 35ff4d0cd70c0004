"""Admin screens for the tenant's people: users (create, deactivate, reset password) and tokens.

Row buttons are small CSRF forms: without JavaScript they post and redirect back; with htmx
they post and swap the row in place. A new password or token is shown once, in the answer to
the POST that made it, never in a flash message (the session cookie is signed, not secret).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from notifier.auth import admin_required
from notifier.service import NotFound, ValidationError, accounts, tenant_admin
from notifier.service.errors import Conflict
from notifier.web import bp, htmx
from notifier.web.admin_forms import ActionForm, NewTokenForm, NewUserForm, ResetPasswordForm


def _field_errors(form: Any, exc: ValidationError | Conflict) -> None:
    for key, message in exc.fields.items():
        field = getattr(form, key, None)
        if field is not None:
            field.errors = [*field.errors, message]


def _users_page(
    form: NewUserForm | None = None, *, shown: dict[str, str] | None = None, status: int = 200
) -> Any:
    tid = current_user.tenant_id
    html = render_template(
        "admin/users.html",
        page_title=gettext("Users") + " · " + gettext("Admin"),
        active="admin",
        section="users",
        users=tenant_admin.users(tid),
        form=form or NewUserForm(formdata=None),
        reset_form=ResetPasswordForm(formdata=None),
        action=ActionForm(formdata=None),
        shown=shown,
    )
    return current_app.make_response((html, status))


@bp.get("/admin/users")
@admin_required
def admin_users() -> Any:
    """List the tenant's users with the create form."""
    return _users_page()


@bp.post("/admin/users")
@admin_required
def admin_user_create() -> Any:
    """Create a user in the admin's tenant; a generated password is shown once."""
    form = NewUserForm()
    if not form.validate_on_submit():
        return _users_page(form, status=422)
    password = form.password.data or None
    generated = None if password else secrets.token_urlsafe(12)  # as `flask create-user`
    try:
        made = accounts.create_user(
            form.email.data, password or generated, tenant=current_user.tenant, role=form.role.data
        )
    except (ValidationError, Conflict) as exc:
        _field_errors(form, exc)
        return _users_page(form, status=422)
    shown = {"label": gettext("Created %(email)s.", email=made.email)}
    if generated:
        shown |= {"secret": generated, "what": gettext("Their password (shown once)")}
    return _users_page(shown=shown, status=201)


def _row(user_id: int, message: str) -> Any:
    if htmx.is_htmx():
        row = tenant_admin.user(current_user.tenant_id, user_id)
        return render_template(
            "admin/_user_row.html", u=row, action=ActionForm(formdata=None), note=message
        )
    flash(message, "success")
    return redirect(url_for("web.admin_users"))


@bp.post("/admin/users/<int:user_id>/deactivate")
@admin_required
def admin_user_deactivate(user_id: int) -> Any:
    """Deactivate a user: sign-ins end, tokens stop working, streams close."""
    return _set_active(user_id, False)


@bp.post("/admin/users/<int:user_id>/reactivate")
@admin_required
def admin_user_reactivate(user_id: int) -> Any:
    """Let a deactivated user sign in again."""
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        target = tenant_admin.set_active(
            current_user.tenant_id, user_id, active, actor=current_user
        )
    except NotFound:
        abort(404)
    except Conflict as exc:
        abort(409, description=exc.message)
    if active:
        return _row(user_id, gettext("%(email)s reactivated.", email=target.email))
    return _row(user_id, gettext("%(email)s deactivated.", email=target.email))


@bp.post("/admin/users/<int:user_id>/password")
@admin_required
def admin_user_password(user_id: int) -> Any:
    """Set or generate a user's password; their sign-ins end."""
    form = ResetPasswordForm()
    try:
        target = tenant_admin.user(current_user.tenant_id, user_id)
    except NotFound:
        abort(404)
    if not form.validate_on_submit():
        flash(gettext("Password not changed: at least 8 characters, or leave it empty."), "error")
        return redirect(url_for("web.admin_users"))
    _, generated = tenant_admin.reset_password(
        current_user.tenant_id, user_id, form.password.data or None
    )
    shown = {
        "label": gettext("Password of %(email)s changed; their sign-ins ended.", email=target.email)
    }
    if generated:
        shown |= {"secret": generated, "what": gettext("The new password (shown once)")}
    return _users_page(shown=shown)


# --- API tokens ------------------------------------------------------------------------------


def _tokens_page(
    form: NewTokenForm | None = None, *, shown: dict[str, str] | None = None, status: int = 200
) -> Any:
    tid = current_user.tenant_id
    form = form or NewTokenForm(formdata=None, user_id=current_user.id)
    _user_choices(form)
    html = render_template(
        "admin/tokens.html",
        page_title=gettext("API tokens") + " · " + gettext("Admin"),
        active="admin",
        section="tokens",
        tokens=tenant_admin.tokens(tid),
        form=form,
        action=ActionForm(formdata=None),
        shown=shown,
    )
    return current_app.make_response((html, status))


def _user_choices(form: NewTokenForm) -> None:
    people = [u for u in tenant_admin.users(current_user.tenant_id) if u.active]
    form.user_id.choices = [(u.id, u.email) for u in people]


@bp.get("/admin/tokens")
@admin_required
def admin_tokens() -> Any:
    """List the tenant's API tokens with the create form."""
    return _tokens_page()


@bp.post("/admin/tokens")
@admin_required
def admin_token_create() -> Any:
    """Create a token for a user of the tenant; the plaintext is shown in this answer only."""
    form = NewTokenForm()
    _user_choices(form)
    if not form.validate_on_submit():
        return _tokens_page(form, status=422)
    try:
        row, token = tenant_admin.issue_token(
            current_user.tenant_id, form.user_id.data, form.name.data
        )
    except NotFound:
        abort(404)
    except ValidationError as exc:
        _field_errors(form, exc)
        return _tokens_page(form, status=422)
    shown = {
        "label": gettext(
            "Token “%(name)s” created for %(email)s.", name=row.name, email=row.user.email
        ),
        "secret": token,
        "what": gettext("The token (shown once; copy it now)"),
    }
    return _tokens_page(shown=shown, status=201)


@bp.post("/admin/tokens/<int:token_id>/revoke")
@admin_required
def admin_token_revoke(token_id: int) -> Any:
    """Revoke a token of the tenant; streams opened with it close."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        row = tenant_admin.revoke_token(current_user.tenant_id, token_id)
    except NotFound:
        abort(404)
    if htmx.is_htmx():
        email = row.user.email
        return render_template(
            "admin/_token_row.html", t=row, email=email, action=ActionForm(formdata=None)
        )
    flash(gettext("Token “%(name)s” revoked.", name=row.name), "success")
    return redirect(url_for("web.admin_tokens"))
