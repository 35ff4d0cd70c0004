"""The admin page's proxy self-test: a button that runs notifier.selftest through the public URL.

The URL is never taken from the form: it is NOTIFIER_BASE_URL, else the address this request
came in on, so the temporary admin token the test uses only ever goes to this site. The hold
for the idle cut-off is kept below common proxy timeouts (this POST itself crosses the proxy);
``flask --app app selftest URL`` holds 90 s.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext
from flask_login import current_user

from notifier import selftest
from notifier.auth import admin_required
from notifier.web import bp

IDLE_DEFAULT = 20
IDLE_MAX = 50  # the POST waits this long; nginx's default proxy_read_timeout is 60 s


def public_url() -> str:
    """Return the site's public origin: NOTIFIER_BASE_URL, else this request's own root."""
    return str(current_app.config.get("NOTIFIER_BASE_URL") or request.url_root).rstrip("/")


@bp.post("/admin/selftest")
@admin_required
def admin_selftest() -> Any:
    """Run the self-test and answer the report fragment (htmx swaps it for the button)."""
    raw = (request.form.get("idle_bound") or str(IDLE_DEFAULT)).strip()
    try:
        idle = int(raw)
        if not 0 <= idle <= IDLE_MAX:
            raise ValueError
    except ValueError:
        error = gettext("Hold for 0 to %(max)s seconds.", max=IDLE_MAX)
        page = {"error": error, "idle_bound": raw, "url": public_url()}
        return render_template("admin/_selftest.html", **page), 422
    with selftest.temporary_token(current_user._get_current_object()) as token:
        result = selftest.run(
            public_url(),
            token,
            ping_interval=float(current_app.config["NOTIFIER_PING_INTERVAL"]),
            idle_bound=float(idle),
        )
    return render_template("admin/_selftest.html", result=result, idle_bound=idle, url=result.url)
