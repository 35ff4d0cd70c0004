"""The page's time-to-screen beacon: POST /screen-acks (navigator.sendBeacon, batched).

sendBeacon cannot set the X-CSRFToken header, so the view is exempt from Flask-WTF and
checks the request came from this site instead: a same-origin ``Sec-Fetch-Site`` or an
``Origin`` equal to ours (a cross-site form post carries neither). The body is JSON sent
as text/plain, which a beacon may send without a CORS preflight.
"""

from __future__ import annotations

import json
from typing import Any

from flask import abort, request
from flask_login import current_user, login_required

from notifier import metrics_screen
from notifier.extensions import csrf
from notifier.service import ValidationError, screen
from notifier.web import bp


def same_origin() -> bool:
    """Return True when the browser says the request comes from a page of this site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and origin.rstrip("/") == request.host_url.rstrip("/")


@bp.post("/screen-acks")
@csrf.exempt
@login_required
def screen_acks() -> Any:
    """Record the live renders a page acknowledges; 204."""
    if not same_origin():
        abort(403)
    try:
        acks = screen.parse(json.loads(request.get_data(cache=False) or b"null"))
    except (ValueError, ValidationError):
        abort(400)
    latencies = screen.record(current_user, acks)
    metrics_screen.observe(current_user.tenant_id, latencies)
    return "", 204
