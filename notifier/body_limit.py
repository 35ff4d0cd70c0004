"""WSGI middleware that gives a chunked request body a length, so NOTIFIER_MAX_BODY holds for it.

Werkzeug (3.x) enforces MAX_CONTENT_LENGTH on a body without Content-Length only by refusing to
read past it: ``request.get_data()`` returns the first MAX_CONTENT_LENGTH bytes and no error,
so an oversized chunked body was cut and accepted. This middleware reads such a body up to
one byte over the limit, under any server (pywsgi and gunicorn both de-chunk ``wsgi.input``):

- within the limit, the application gets it as an ordinary body with a Content-Length;
- over it, the application sees a declared length over the limit and an empty stream, so it
  answers exactly as for an oversized body with Content-Length: 413 (the JSON error body on
  /api/, before anything is parsed or stored). The server discards or drops the rest.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ChunkedBodyLimit:
    """Buffer chunked request bodies up to ``limit`` bytes and mark larger ones as too large."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Pass the request on with a de-chunked body and a Content-Length."""
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = read_at_most(environ["wsgi.input"], self.limit + 1)
            # Werkzeug ignores Content-Length while Transfer-Encoding: chunked is present.
            del environ["HTTP_TRANSFER_ENCODING"]
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(b"" if len(body) > self.limit else body)
        return self.app(environ, start_response)


def read_at_most(stream: Any, size: int) -> bytes:
    """Read from ``stream`` until EOF or ``size`` bytes (servers may return short reads)."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        data = stream.read(min(left, 65536))
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)
