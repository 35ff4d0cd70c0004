"""The HTML stream the pages subscribe to: GET /stream (login session, same cursor rules)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user, login_required

from notifier.auth import Unauthorized, session_credential
from notifier.bus.hub import TooManyConnections
from notifier.extensions import login_manager
from notifier.i18n import page_lang
from notifier.responses import error_response
from notifier.service.errors import ValidationError
from notifier.stream import open_stream
from notifier.stream.refusal import refusal
from notifier.stream.types import parse_types
from notifier.web import bp
from notifier.web.renderer import html_renderer


@bp.get("/stream")
@login_required
def html_stream() -> Any:
    """Stream the user's events as server-rendered fragments (htmx's SSE extension reads it).

    ``?types=a,b`` sends only those notification types, as on the JSON stream.
    """
    user = current_user._get_current_object()
    try:
        types = parse_types(request.args.get("types"))
    except ValidationError as exc:  # an EventSource shows no page: the API's JSON error body
        return error_response(422, exc.message, code="validation_error", fields=exc.fields)
    try:
        # Opened with the login session: logout closes it (CONTRACT §8).
        renderer = html_renderer(page_lang())  # the language this page was rendered in
        return open_stream(user, session_credential(user), renderer, types)
    except TooManyConnections as exc:
        return refusal(exc)
    except Unauthorized:  # signed out while this request was on its way
        return login_manager.unauthorized()
