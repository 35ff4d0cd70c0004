"""The preferences page: type × channel matrix, channel switches, quiet hours, digests."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, refresh
from flask_login import current_user, login_required
from sqlalchemy import select

from notifier import i18n
from notifier.channels import USER_CHANNELS, configured
from notifier.extensions import db
from notifier.models import Notification, utcnow
from notifier.service import ValidationError, accounts
from notifier.service import preferences as prefs_svc
from notifier.web import bp, htmx
from notifier.web.forms import CHANNEL_LABELS, PreferencesForm, clean_types, preferences_form

RECENT = timedelta(days=30)


def _types(prefs: dict[str, Any]) -> list[str]:
    """Offer the configured and mandatory types and those received in the last 30 days.

    Not every type ever received or stored: one-off test types used to clutter the grid.
    Types left off keep their settings (the form only posts the types it shows).
    """
    recent = db.session.scalars(
        select(Notification.type)
        .where(
            Notification.user_id == current_user.id, Notification.created_at >= utcnow() - RECENT
        )
        .distinct()
    )
    configured = current_app.config.get("NOTIFIER_TYPES", ())
    return sorted({*configured, *prefs_svc.mandatory_types(), *recent})


def unconfigured_channels() -> set[str]:
    """Return the channels this server has no settings for (not tickable)."""
    return {ch for ch in USER_CHANNELS if not configured(ch, current_app.config)}


def _initial(form: PreferencesForm, prefs: dict[str, Any]) -> None:
    """Fill an unsubmitted form from the stored preferences."""
    for ch in USER_CHANNELS:
        form[f"ch_{ch}"].data = bool(prefs["channels"].get(ch, False))
    for t, cells, digest in form.matrix:
        for ch, name in cells:
            form[name].data = bool(prefs["types"].get(t, {}).get(ch, True))
        form[digest].data = prefs["digest"].get(t, "off")
    qh = prefs["quiet_hours"]
    form.quiet_enabled.data = bool(qh.get("enabled"))
    form.quiet_start.data = time.fromisoformat(qh.get("start") or "22:00")
    form.quiet_end.data = time.fromisoformat(qh.get("end") or "07:00")
    form.quiet_timezone.data = qh.get("timezone") or "UTC"
    form.phone.data = current_user.phone or ""
    form.locale.data = i18n.supported(current_user.locale)


def _document(form: PreferencesForm, stored: dict[str, Any]) -> dict[str, Any]:
    """Turn a valid form into a preferences document; mandatory types stay on in-app.

    Channels not set up here are shown disabled, so never posted: they keep what is stored.
    """
    mandatory = set(prefs_svc.mandatory_types())
    off_here = unconfigured_channels()
    types: dict[str, dict[str, bool]] = {}
    digest: dict[str, str] = {}
    for t, cells, digest_name in form.matrix:
        types[t] = {
            ch: bool(stored["types"].get(t, {}).get(ch, True))
            if ch in off_here
            else bool(form[name].data)
            for ch, name in cells
        }
        if t in mandatory:  # a disabled checkbox is never submitted; the rule is the server's
            types[t]["in_app"] = True
        if "email" in off_here:  # the choice is disabled too, so never posted
            digest[t] = str(stored["digest"].get(t, "off"))
        else:
            digest[t] = form[digest_name].data or "off"
    start, end = form.quiet_start.data, form.quiet_end.data
    return {
        "channels": {
            ch: bool(stored["channels"].get(ch)) if ch in off_here else bool(form[f"ch_{ch}"].data)
            for ch in USER_CHANNELS
        },
        "types": types,
        "quiet_hours": {
            "enabled": bool(form.quiet_enabled.data),
            "start": start.strftime("%H:%M") if start else "22:00",
            "end": end.strftime("%H:%M") if end else "07:00",
            "timezone": form.quiet_timezone.data or "UTC",
        },
        "digest": digest,
    }


def _attach_errors(form: PreferencesForm, exc: ValidationError) -> list[str]:
    """Put service field errors next to the matching form fields; return the rest."""
    names = {
        "quiet_hours.timezone": "quiet_timezone",
        "quiet_hours.start": "quiet_start",
        "quiet_hours.end": "quiet_end",
        "phone": "phone",
        "locale": "locale",
    }
    for t, cells, digest in form.matrix:
        names[f"digest.{t}"] = digest
        names.update({f"types.{t}.{ch}": name for ch, name in cells})
    rest = []
    for key, message in exc.fields.items():
        if key in names:
            form[names[key]].errors = [*form[names[key]].errors, message]
        else:
            rest.append(f"{key}: {message}")
    return rest or ([] if exc.fields else [exc.message])


def _render(
    form: PreferencesForm,
    *,
    status: int = 200,
    saved: bool = False,
    errors: list[str] | None = None,
) -> Any:
    ctx = {
        "form": form,
        "saved": saved,
        "form_errors": errors or [],
        "mandatory": set(prefs_svc.mandatory_types()),
        "channel_labels": CHANNEL_LABELS,
        "unconfigured": unconfigured_channels(),
    }
    if htmx.is_htmx():
        resp = current_app.make_response((render_template("preferences/_form.html", **ctx), status))
    else:
        resp = current_app.make_response(
            (
                render_template(
                    "preferences/index.html",
                    page_title=gettext("Preferences"),
                    active="preferences",
                    **ctx,
                ),
                status,
            )
        )
    return htmx.vary(resp)


def _set_profile(phone: str | None, locale: str | None) -> bool:
    """Put the form's phone and language on the user; return True when the language changed.

    The phone is E.164 or empty; ValidationError names ``phone`` or ``locale``.
    """
    errors: dict[str, str] = {}
    doc = {"phone": (phone or "").strip() or None, "locale": locale or "en"}
    changes = accounts.validate_profile(doc, errors)
    if errors:
        raise ValidationError("invalid profile", fields=errors)
    changed = changes["locale"] != current_user.locale
    current_user.phone = changes["phone"]
    current_user.locale = changes["locale"]
    return bool(changed)


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    """Show the preferences form; save it in place (htmx) or with a redirect (plain POST)."""
    stored = prefs_svc.get_preferences(current_user.id)
    zone = stored["quiet_hours"].get("timezone") or "UTC"
    if request.method == "GET":
        form = preferences_form(_types(stored), zone, formdata=None)
        _initial(form, stored)
        return _render(form)
    shown = clean_types(request.form.getlist("shown_types")) or _types(stored)
    form = preferences_form(shown, zone)
    if not form.validate_on_submit():
        return _render(
            form, status=422, errors=[gettext("Please correct the fields marked below.")]
        )
    try:
        # A post without the select (an older page, a script) keeps the language it had.
        kept = i18n.supported(current_user.locale)
        locale = form.locale.data if "locale" in request.form else kept
        relabel = _set_profile(form.phone.data, locale)
        # The profile is set on the user first: it commits with the preferences, or not at all.
        prefs_svc.set_preferences(current_user, _document(form, stored), merge=True)
    except ValidationError as exc:
        db.session.rollback()
        return _render(form, status=422, errors=_attach_errors(form, exc))
    if relabel:
        refresh()  # Babel chose this request's language before the change: choose again
        if htmx.is_htmx():  # the whole page (nav, <html lang>) changes language: reload it
            flash(gettext("Preferences saved."), "success")
            resp = current_app.make_response(("", 204))
            resp.headers["HX-Refresh"] = "true"
            return resp
    if not htmx.is_htmx():
        flash(gettext("Preferences saved."), "success")
        return redirect(url_for("web.preferences"))  # PRG: a reload never re-posts
    stored = prefs_svc.get_preferences(current_user.id)
    saved = preferences_form(shown, stored["quiet_hours"]["timezone"], formdata=None)
    _initial(saved, stored)
    return _render(saved, saved=True)
