"""The fast lane: the two hottest routes answered below Flask's dispatch, Flask for the rest.

A targeted publish and a stream open used to cost 1.5–2 ms of CPU each, most of it before
the view ran: the request context, a dozen before/after-request hooks (metrics, limiter,
guards, locale, login), URL matching and teardown. A trivial ``/healthz`` cost ~450 µs, more
than the bare gevent floor spends on a whole notification (docs/benchmarks.md). The lane
sits just outside Flask's ``wsgi_app`` (inside the request-id middleware, the chunked-body
limit and ProxyFix, so those still apply) and maps ``(method, path)`` to a handler:

- a handler returns a WSGI body to answer the request itself, or ``None`` to hand the
  request to Flask unchanged: every case the handler does not cover (another auth scheme, an
  ``Idempotency-Key``, a query string, a malformed body, any error it would have to word) goes
  the full way, so the answers, error bodies and status codes stay Flask's own;
- a handler that read the body calls :meth:`Call.restore` before handing over;
- the lane's own answers carry what the after-request hooks would have added
  (``notifier.security``: nosniff, Referrer-Policy, ``Cache-Control: no-store`` on the API)
  and are counted and timed in the same Prometheus series (``notifier.metrics_http``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from notifier.body_limit import read_at_most
from notifier.metrics_http import DURATION, REQUESTS

if TYPE_CHECKING:
    from flask import Flask

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Handler = Callable[["Call"], "Iterable[bytes] | None"]

#: What every API answer carries (notifier.security's after-request hook, for the API).
API_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
_STATUS = {200: "200 OK", 201: "201 Created", 202: "202 Accepted", 429: "429 Too Many Requests"}


class Call:
    """One request on the lane: its environ, the app, the body once read, and the answer."""

    __slots__ = ("app", "body", "environ", "route", "start_response", "started")

    def __init__(
        self, app: Flask, route: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> None:
        self.app = app
        self.route = route
        self.environ = environ
        self.start_response = start_response
        self.started = time.perf_counter()
        self.body: bytes | None = None

    def header(self, name: str) -> str:
        """Return request header ``name`` (WSGI spelling, e.g. ``HTTP_AUTHORIZATION``) or ""."""
        return str(self.environ.get(name) or "")

    def read_body(self, limit: int) -> bytes | None:
        """Return the declared body when it has a length within ``limit``, else None (unread)."""
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length <= 0 or length > limit:
            return None
        self.body = read_at_most(self.environ["wsgi.input"], length)
        return self.body

    def restore(self) -> None:
        """Put the body back so Flask reads it as if the lane had never looked."""
        if self.body is not None:
            self.environ["wsgi.input"] = io.BytesIO(self.body)
            self.environ["CONTENT_LENGTH"] = str(len(self.body))
            self.body = None

    def json(
        self, status: int, payload: bytes, headers: Iterable[tuple[str, str]] = ()
    ) -> list[bytes]:
        """Answer ``payload`` (JSON bytes) with ``status``, counted and timed like Flask's."""
        method = self.environ["REQUEST_METHOD"]
        out = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *API_HEADERS,
            *headers,
        ]
        self.start_response(_STATUS.get(status) or f"{status} Error", out)
        REQUESTS.labels(self.route, method, str(status)).inc()
        DURATION.labels(self.route, method).observe(time.perf_counter() - self.started)
        return [payload]

    def stream(self, headers: Iterable[tuple[str, str]], body: Iterable[bytes]) -> Iterable[bytes]:
        """Answer 200 with an event stream and ``headers`` as given; counted, never timed.

        The headers are the caller's whole list: a stream's own Cache-Control replaces the
        API's no-store, and a stream lasts minutes, so its duration is not observed.
        """
        self.start_response(_STATUS[200], list(headers))
        REQUESTS.labels(self.route, self.environ["REQUEST_METHOD"], "200").inc()
        return body


class FastLane:
    """WSGI middleware answering the lane's routes, and passing every other request to Flask."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        #: (method, PATH_INFO) -> (route template for the metrics, handler)
        self.routes: dict[tuple[str, str], tuple[str, Handler]] = {}

    def route(self, method: str, path: str, handler: Handler, template: str | None = None) -> None:
        """Answer ``method path`` with ``handler``; ``template`` is Flask's rule, for metrics."""
        self.routes[(method, path)] = (template or path, handler)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Run the route's handler; Flask answers what it declines and every other route."""
        found = self.routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if found is not None:
            call = Call(self.app, found[0], environ, start_response)
            answer = found[1](call)
            if answer is not None:
                return answer
            call.restore()
        return self.wsgi_app(environ, start_response)


def install(app: Flask) -> FastLane:
    """Wrap ``app.wsgi_app`` (Flask's own, before any other middleware) in a lane."""
    lane = FastLane(app, app.wsgi_app)
    app.wsgi_app = lane  # type: ignore[method-assign]
    app.extensions["notifier.lane"] = lane
    return lane
