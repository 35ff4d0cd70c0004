"""Logging: one dictConfig for the app's loggers, request ids, and optional JSON lines.

create_app calls :func:`configure`: under ``python app.py`` and ``flask --app app …`` records go
to stderr with a timestamp, level, logger name and the request id (``NOTIFIER_LOG_FORMAT=json``
makes each line one JSON object). In a gunicorn worker (gunicorn.error has handlers) the app's
records go to gunicorn's error-log handlers instead, so they land wherever ``--error-logfile`` or
``--log-syslog`` point, in the same format. A host that configured logging itself (root
handlers: an embedder, pytest) is never overridden. No gunicorn hook is needed: the check runs
in each worker when it imports the app, after gunicorn set up its loggers.

Every request carries an id: a sane incoming ``X-Request-ID`` is kept (a proxy's or a client's),
any other is replaced by a fresh one; it is echoed in the response header, in the access line and
on every record logged while the request runs (a context variable, per greenlet under gevent).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


HEADER = "X-Request-ID"
ENVIRON_KEY = "notifier.request_id"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s rid=%(request_id)s: %(message)s"
# Letters, digits and . _ : - up to 128: covers UUIDs, nginx's $request_id and trace ids, and
# keeps log lines (and the echoed header) free of spaces, quotes and control characters.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_request_id: ContextVar[str | None] = ContextVar("notifier_request_id", default=None)


def request_id_from(value: str | None) -> str:
    """Return ``value`` when it is a sane token, else a new random id (32 hex digits)."""
    if value and _SANE.fullmatch(value):
        return value
    # 128 random bits as uuid4().hex gave, without building a UUID (a fifth of the cost).
    return os.urandom(16).hex()


def current_request_id() -> str | None:
    """Return the id of the request running in this greenlet (None outside one)."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Give every record a ``request_id`` attribute ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the current request id unless the caller passed one in ``extra``."""
        if not getattr(record, "request_id", None):
            record.request_id = _request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record; a traceback goes into ``exc_info`` as text."""
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get() or "-",
            "pid": record.process,
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """logging.Formatter whose default timestamp is rendered once per second, not per record.

    Every request writes an access line; ``time.strftime`` of the same second for each was
    a visible part of it (Formatter.formatTime in the /healthz profile).
    """

    _cached: tuple[int, str] = (-1, "")  # (second, its strftime text): one object, no tearing

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """Return what logging.Formatter.formatTime returns, reusing the last second's text."""
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._cached
        if cached[0] != second:
            cached = (second, time.strftime(self.default_time_format, self.converter(second)))
            self._cached = cached
        return (self.default_msec_format or "%s,%03d") % (cached[1], record.msecs)


def make_formatter(fmt: str) -> logging.Formatter:
    """Return the formatter for NOTIFIER_LOG_FORMAT ``fmt`` (text or json)."""
    if fmt == "json":
        return JsonFormatter()
    return TextFormatter(TEXT_FORMAT)


def dict_config(fmt: str = "text", level: str = "INFO") -> dict[str, Any]:
    """Return the dictConfig: stderr handler on the root, the app's loggers at ``level``."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if fmt == "json" else {"()": TextFormatter, "fmt": TEXT_FORMAT}
    )
    return {
        "version": 1,
        # Loggers created at import (notifier.bus.redis, …) must keep working.
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["request_id"],
                "formatter": "default",
            }
        },
        # Libraries speak at WARNING and above; the app's own loggers from INFO (reconnects).
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {"notifier": {"level": level}, "py.warnings": {"level": "WARNING"}},
    }


def _configured_by_host() -> bool:
    """Return True when something else (a test runner, an embedder) put handlers in place."""
    from flask.logging import default_handler

    own = [h for h in logging.getLogger("notifier").handlers if h is not default_handler]
    return bool(logging.getLogger().handlers or own)


def configure(fmt: str = "text") -> str:
    """Set up logging unless the host did; return "host", "gunicorn" or "stderr"."""
    if _configured_by_host():
        return "host"
    from flask.logging import default_handler

    logging.getLogger("notifier").removeHandler(default_handler)  # ours replaces Flask's
    if logging.getLogger("gunicorn.error").handlers:
        use_gunicorn_handlers(fmt)
        return "gunicorn"
    logging.config.dictConfig(dict_config(fmt))
    logging.captureWarnings(True)  # warnings.warn() (e.g. Flask-Limiter's) as log lines too
    return "stderr"


def use_gunicorn_handlers(fmt: str = "text") -> None:
    """Send the app's records to gunicorn's error-log handlers (in a gunicorn worker).

    The root logger gets gunicorn.error's handlers, so ``notifier.*`` and library warnings go
    wherever ``--error-logfile``/``--log-syslog`` point. Those handlers get our formatter (the
    logger name and request id; JSON lines when asked), gunicorn's own lines included, so one
    file has one format; gunicorn's access handler gets the JSON formatter in json mode.
    """
    error = logging.getLogger("gunicorn.error")
    formatter = make_formatter(fmt)
    for handler in error.handlers:
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(formatter)
    if fmt == "json":
        for handler in logging.getLogger("gunicorn.access").handlers:
            handler.addFilter(RequestIdFilter())
            handler.setFormatter(formatter)
    root = logging.getLogger()
    if not root.handlers:
        for handler in error.handlers:
            root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("notifier").setLevel(logging.INFO)
    logging.captureWarnings(True)


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestIdMiddleware:
    """Assign each request its id, expose it to logging and echo it as ``X-Request-ID``."""

    def __init__(self, app: WSGIApp) -> None:
        """Wrap the WSGI ``app`` (outermost, so refusals like a chunked 413 carry an id too)."""
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Set the id for this greenlet and add the response header."""
        rid = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = rid
        # Not reset at the end: the server's access line is written after the body, in this
        # greenlet; the next request on the connection sets its own id first.
        _request_id.set(rid)

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((HEADER, rid))
            return start_response(status, headers, exc_info)

        return self.app(environ, _start)


def init_app(app: Flask) -> None:
    """Configure logging (unless the host did) and give every request an id."""
    configure(str(app.config.get("NOTIFIER_LOG_FORMAT") or "text").lower())
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
