"""Admin screen for a user's data: export it as JSON, or erase the user after a typed confirmation.

Both act through ``service/privacy.py`` (the API's ``/api/v1/users/<id>`` and ``flask erase-user``
use the same functions), so the page erases exactly what they erase and audits it the same way.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from notifier.auth import admin_required
from notifier.models import User
from notifier.service import NotFound, privacy
from notifier.web import bp
from notifier.web.admin_forms import ActionForm


def _target(user_id: int) -> User:
    """Return the admin's tenant's user ``user_id``; 404 for anyone else's (and for oneself)."""
    try:
        user = privacy.tenant_user(current_user.tenant_id, user_id)
    except NotFound:
        abort(404)
    return user


def _confirm_page(user: User, *, error: str | None = None, status: int = 200) -> Any:
    html = render_template(
        "admin/erase_confirm.html",
        page_title=gettext("Erase a user") + " · " + gettext("Admin"),
        active="admin",
        section="users",
        u=user,
        action=ActionForm(formdata=None),
        error=error,
    )
    return current_app.make_response((html, status))


@bp.get("/admin/users/<int:user_id>/erase")
@admin_required
def admin_user_erase_confirm(user_id: int) -> Any:
    """Ask the admin to type the user's email before erasing them."""
    user = _target(user_id)
    if user.id == current_user.id:
        abort(404)  # one's own account is erased from Preferences, with the password
    return _confirm_page(user)


@bp.post("/admin/users/<int:user_id>/erase")
@admin_required
def admin_user_erase(user_id: int) -> Any:
    """Erase the user and every row about them once the typed email matches."""
    user = _target(user_id)
    if user.id == current_user.id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    typed = (request.form.get("confirm") or "").strip().lower()
    if typed != user.email.lower():
        error = gettext("Type the user's email exactly to erase them.")
        return _confirm_page(user, error=error, status=422)
    email = user.email
    privacy.erase_user(user, current_user._get_current_object())
    flash(
        gettext(
            "%(email)s was erased: every row about them is gone; the audit log keeps the fact.",
            email=email,
        ),
        "success",
    )
    return redirect(url_for("web.admin_users"))


@bp.get("/admin/users/<int:user_id>/export")
@admin_required
def admin_user_export(user_id: int) -> Any:
    """Download everything stored about one user of the tenant as JSON (audited)."""
    user = _target(user_id)
    doc = privacy.export_user(user)
    privacy.record_export(user, current_user._get_current_object())
    resp = jsonify(doc)
    resp.headers["Content-Disposition"] = f'attachment; filename="notifier-user-{user.id}.json"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
