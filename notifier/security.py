"""Response headers every answer carries: CSP on pages, nosniff everywhere."""

from __future__ import annotations

from flask import Flask, Response, request

from notifier.vendor import CDN_ORIGIN, PINS, local_file_ok


def init_app(app: Flask) -> None:
    """Install the after-request hook that sets security headers."""

    def script_src() -> str:
        # The CDN is allowed only while a pinned local copy is missing (SRI still applies).
        if all(local_file_ok(pin, app.static_folder or "") for pin in PINS):
            return "'self'"
        return f"'self' {CDN_ORIGIN}"

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if resp.mimetype == "text/html":
            scripts = script_src()
            resp.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; "
                f"script-src {scripts}; "
                "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
            )
            resp.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp
