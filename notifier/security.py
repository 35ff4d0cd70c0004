"""Response headers every answer carries: CSP on pages, nosniff everywhere."""

from __future__ import annotations

from flask import Flask, Response, request

from notifier.vendor import CDN_ORIGINS


def init_app(app: Flask) -> None:
    """Install the after-request hook that sets security headers."""

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if resp.mimetype == "text/html":
            scripts = " ".join(["'self'", *CDN_ORIGINS])
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
