"""The preferences page: type × channel matrix, channel switches, quiet hours, digests."""

from __future__ import annotations

from datetime import time
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from notifier.channels import USER_CHANNELS, configured
from notifier.service import ValidationError
from notifier.service import preferences as prefs_svc
from notifier.web import bp, htmx
from notifier.web.forms import CHANNEL_LABELS, PreferencesForm, clean_types, preferences_form
from notifier.web.inbox import known_types


def _types(prefs: dict[str, Any]) -> list[str]:
    """Offer configured types, received types and types already in the preferences."""
    return sorted({*known_types(current_user.id), *prefs["types"], *prefs["digest"]})


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


def _document(form: PreferencesForm) -> dict[str, Any]:
    """Turn a valid form into a preferences document; mandatory types stay on in-app."""
    mandatory = set(prefs_svc.mandatory_types())
    types: dict[str, dict[str, bool]] = {}
    digest: dict[str, str] = {}
    for t, cells, digest_name in form.matrix:
        types[t] = {ch: bool(form[name].data) for ch, name in cells}
        if t in mandatory:  # a disabled checkbox is never submitted; the rule is the server's
            types[t]["in_app"] = True
        digest[t] = form[digest_name].data or "off"
    start, end = form.quiet_start.data, form.quiet_end.data
    return {
        "channels": {ch: bool(form[f"ch_{ch}"].data) for ch in USER_CHANNELS},
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
        "unconfigured": {ch for ch in USER_CHANNELS if not configured(ch, current_app.config)},
    }
    if htmx.is_htmx():
        resp = current_app.make_response((render_template("preferences/_form.html", **ctx), status))
    else:
        resp = current_app.make_response(
            (
                render_template(
                    "preferences/index.html", page_title="Preferences", active="preferences", **ctx
                ),
                status,
            )
        )
    return htmx.vary(resp)


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
        return _render(form, status=422, errors=["Please correct the fields marked below."])
    try:
        prefs_svc.set_preferences(current_user, _document(form), merge=True)
    except ValidationError as exc:
        return _render(form, status=422, errors=_attach_errors(form, exc))
    if not htmx.is_htmx():
        flash("Preferences saved.", "success")
        return redirect(url_for("web.preferences"))  # PRG: a reload never re-posts
    stored = prefs_svc.get_preferences(current_user.id)
    saved = preferences_form(shown, stored["quiet_hours"]["timezone"], formdata=None)
    _initial(saved, stored)
    return _render(saved, saved=True)
