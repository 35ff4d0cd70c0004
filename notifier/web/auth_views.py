"""Login and logout pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm

from notifier.limits import login_limit
from notifier.service import accounts, sessions
from notifier.web import bp
from notifier.web.forms import LoginForm


def _safe_next(target: str | None) -> str:
    """Only follow same-site relative redirects after login."""
    if not target:
        return url_for("web.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@login_limit
def login() -> Any:
    """Show the login form; sign in on a valid POST."""
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = accounts.check_login(form.email.data or "", form.password.data or "")
        if user is not None:
            # A new server-side sign-in per login: fresh session and remember cookie values.
            sessions.start_session(user)
            login_user(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(gettext("Wrong email or password."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    """Sign out (POST with CSRF, so a link elsewhere cannot log you out).

    The sign-in is deleted server-side, so copies of its cookies stop working, and the
    streams opened with it close (in every process).
    """
    form = FlaskForm()
    if form.validate_on_submit():
        sessions.end_session(current_user._get_current_object())
        logout_user()
        flash(gettext("You are signed out."))
    return redirect(url_for("web.login"))
