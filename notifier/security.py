"""Response headers every answer carries: CSP on pages, nosniff everywhere."""

from __future__ import annotations

import time

from flask import Flask, Response
from flask.globals import request_ctx

from notifier.vendor import CDN_ORIGIN, PINS, local_file_ok

# How long the answer "are the pinned scripts served locally" is reused: each check stats
# every pinned file, per HTML response; a copy removed or restored shows within this.
SCRIPT_CHECK_SECONDS = 1.0
_ALWAYS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))


def csp(scripts: str) -> str:
    """Return the pages' Content-Security-Policy with ``scripts`` as its script-src."""
    return (
        "default-src 'self'; "
        f"script-src {scripts}; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    )


def init_app(app: Flask) -> None:
    """Install the after-request hook that sets security headers."""
    checked: list[tuple[float, str]] = []  # [(when, policy)] of the last script check

    def page_policy() -> str:
        now = time.monotonic()
        if checked and now - checked[0][0] < SCRIPT_CHECK_SECONDS:
            return checked[0][1]
        # The CDN is allowed only while a pinned local copy is missing (SRI still applies).
        if all(local_file_ok(pin, app.static_folder or "") for pin in PINS):
            policy = csp("'self'")
        else:
            policy = csp(f"'self' {CDN_ORIGIN}")
        checked[:] = [(now, policy)]
        return policy

    @app.after_request
    def _headers(resp: Response) -> Response:
        headers = resp.headers
        # One pass over the names instead of a scan per setdefault (every response runs this).
        present = {name.lower() for name, _ in headers.items()}
        for name, value in _ALWAYS:
            if name.lower() not in present:
                headers.add(name, value)
        if resp.mimetype == "text/html":
            if "content-security-policy" not in present:
                headers.add("Content-Security-Policy", page_policy())
            if "x-frame-options" not in present:
                headers.add("X-Frame-Options", "DENY")
        if "cache-control" not in present and request_ctx.request.path.startswith("/api/"):
            headers.add("Cache-Control", "no-store")
        return resp
