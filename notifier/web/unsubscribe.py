"""The one-click unsubscribe link of every email: GET confirms, POST turns that email off.

No sign-in: the signed token is the credential (see :mod:`notifier.service.unsubscribe`).
The POST is exempt from CSRF because mail clients post it themselves (RFC 8058 one-click,
``List-Unsubscribe=One-Click``); a forged request can only do what the link already allows.
"""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask_babel import gettext

from notifier.extensions import csrf
from notifier.service import NotFound
from notifier.service import unsubscribe as unsub
from notifier.web import bp


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str) -> Any:
    """Show what the link turns off and a button to confirm (a GET never changes anything)."""
    try:
        user, types = unsub.read_token(token)
    except NotFound:
        abort(404)
    return render_template(
        "unsubscribe.html",
        token=token,
        types=types,
        email=user.email,
        done=not unsub.email_is_on(user, types),
        page_title=gettext("Unsubscribe"),
    )


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe_post(token: str) -> Any:
    """Turn email off for the link's types: from the confirm page or a mail client's POST."""
    try:
        user, types = unsub.apply(token)
    except NotFound:
        abort(404)
    return render_template(
        "unsubscribe.html",
        token=token,
        types=types,
        email=user.email,
        done=True,
        page_title=gettext("Unsubscribed"),
    )
