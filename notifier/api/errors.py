"""One JSON error shape for the whole API: {"error": {code, message, fields}}."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, NotFound

from notifier.extensions import db
from notifier.responses import error_response
from notifier.service.errors import ServiceError

__all__ = ["error_response", "init_app"]


def _is_api() -> bool:
    return request.path.startswith("/api/")


# What a page says for each 4xx; the default describes a request the page cannot use.
_PAGE_MESSAGES = {
    400: _l("The request could not be understood: a value in it is malformed."),
    404: _l("There is nothing here, or it is not yours to see."),
    405: _l("This page does not take that kind of request."),
    413: _l("What was sent is too large."),
}
# The page's heading per status (Werkzeug's names, in the page's language).
_PAGE_TITLES = {
    400: _l("Bad Request"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    409: _l("Conflict"),
    413: _l("Request Entity Too Large"),
}


def _page_error(exc: HTTPException) -> Any:
    """Answer a page's 4xx with a styled page; anything else (redirects, 5xx) as Werkzeug does."""
    status = exc.code or 500
    if not 400 <= status < 500 or status in (401, 429):
        return exc  # 429 keeps the limiter's Retry-After answer
    try:
        html = render_template(
            "error.html",
            status=status,
            title=_PAGE_TITLES.get(status, exc.name),
            message=_PAGE_MESSAGES.get(status) or gettext("The request could not be handled."),
        )
    except Exception:  # noqa: BLE001 - the plain page is better than a 500 about a 4xx
        db.session.rollback()
        return exc
    resp = exc.get_response()
    resp.set_data(html)
    resp.mimetype = "text/html"
    return resp


def init_app(app: Flask) -> None:
    """Install handlers that answer API paths with JSON and leave pages to HTML handlers."""
    from notifier.api import guard

    guard.init_app(app)

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Any:
        db.session.rollback()
        if not _is_api() and exc.status == 404:
            return _page_error(NotFound())
        return error_response(exc.status, exc.message, code=exc.code, fields=exc.fields)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if not _is_api():
            return _page_error(exc)
        status = exc.code or 500
        message = {
            404: "no such resource",
            405: "method not allowed",
            413: f"request body larger than {app.config['NOTIFIER_MAX_BODY']} bytes",
        }.get(status, exc.description or "error")
        headers = {}
        if status == 405 and exc.get_response().headers.get("Allow"):
            headers["Allow"] = exc.get_response().headers["Allow"]
        return error_response(status, message, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return error_response(500, "internal error")
        return "Internal Server Error", 500
