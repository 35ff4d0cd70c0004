"""Privacy pages: the admin's notification-retention setting (export links sit on other pages)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import NumberRange, Optional

from notifier.auth import admin_required
from notifier.service import ValidationError, retention
from notifier.web import bp


class RetentionForm(FlaskForm):
    """Days a tenant's notifications are kept; empty keeps them forever."""

    retention_days = IntegerField(
        _l("Keep notifications for (days)"),
        validators=[Optional(), NumberRange(min=1, max=retention.MAX_RETENTION_DAYS)],
    )


@bp.route("/admin/privacy", methods=["GET", "POST"])
@admin_required
def admin_privacy() -> Any:
    """Show and set the tenant's notification retention."""
    tenant = current_user.tenant
    form = RetentionForm(data={"retention_days": tenant.retention_days})
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                retention.set_retention(tenant, form.retention_days.data)
            except ValidationError as exc:  # the service's own bounds, should the form's drift
                form.retention_days.errors = list(exc.fields.values())
            else:
                flash(gettext("Retention saved."))
                return redirect(url_for("web.admin_privacy"))
        status = 422
    html = render_template(
        "admin/privacy.html",
        page_title=gettext("Privacy"),
        active="admin",
        form=form,
        tenant=tenant,
    )
    return html, status
