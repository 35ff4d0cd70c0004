"""The embeddable inbox's script and its demo page for admins (CONTRACT §11).

``/embed.js`` is a static file (no build step) served at the site root so host pages can load
it as ``<script src="https://HOST/embed.js">``; ``/embed/demo`` shows the widget signed for the
admin who opens it, with the snippet and the tenant's allowed origins.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, send_from_directory
from flask_login import current_user

from notifier.auth import admin_required
from notifier.service import embed
from notifier.web import bp


@bp.get("/embed.js")
def embed_js() -> Any:
    """Serve the widget script (public: it holds no secret; the host signs each user)."""
    resp = send_from_directory(
        current_app.static_folder or "static", "embed.js", mimetype="text/javascript", max_age=300
    )
    resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # other sites load it
    return resp


@bp.get("/embed/demo")
@admin_required
def embed_demo() -> Any:
    """Show the widget signed for the current admin, and how a host page embeds it."""
    secret, origins = embed.settings(current_user.tenant_id)
    email = current_user.email
    return render_template(
        "admin/embed_demo.html",
        email=email,
        digest=embed.sign(secret, email),
        origins=origins,
        host=request.host_url.rstrip("/"),
        section="embed",
    )
