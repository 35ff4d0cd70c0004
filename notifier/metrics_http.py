"""Count HTTP requests by route template, method and status, and time them.

The route is Flask's URL rule (``/api/v1/notifications/<int:notification_id>``), never the raw
path, so the number of series is bounded by the app's routes; a request that matched no rule
is ``route="unmatched"`` and a method outside the standard ones is ``method="other"``.
Server-sent event streams are counted but not timed: a stream lasts minutes, and the time
until its headers says nothing about it (open streams: ``notifier_stream_connections``).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response
from flask.globals import request_ctx
from prometheus_client import Counter, Histogram

from notifier.metrics import REGISTRY

_STARTED = "notifier.metrics_started"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUESTS = Counter(
    "notifier_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "notifier_http_request_duration_seconds",
    "Seconds from the start of the request to its response (streams excluded)",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


# The labelled children, looked up once per (route, method[, status]): prometheus_client's
# labels() validates, stringifies and locks on every call (2.7 % of a /healthz request). The
# keys are bounded as the series are: routes x methods x statuses the app answers.
_counted: dict[tuple[str, str, int], Any] = {}
_timed: dict[tuple[str, str], Any] = {}


def init_app(app: Flask) -> None:
    """Time every request of ``app``; call it before other before_request hooks register."""
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    request_ctx.request.environ[_STARTED] = time.perf_counter()


def _finish(response: Response) -> Response:
    req = request_ctx.request
    rule = req.url_rule
    route = rule.rule if rule is not None else "unmatched"
    method = req.method if req.method in METHODS else "other"
    status = response.status_code
    counter = _counted.get((route, method, status))
    if counter is None:
        counter = _counted[(route, method, status)] = REQUESTS.labels(route, method, str(status))
    counter.inc()
    started = req.environ.pop(_STARTED, None)
    if started is not None and response.mimetype != "text/event-stream":
        timer = _timed.get((route, method))
        if timer is None:
            timer = _timed[(route, method)] = DURATION.labels(route, method)
        timer.observe(time.perf_counter() - started)
    return response
