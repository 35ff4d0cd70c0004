"""The JSON error response of CONTRACT §5, {"error": {code, message, fields}}, for every layer.

Here rather than in ``api/`` so that the parts below the API that answer HTTP themselves
(the stream's refusals, the limiter, the ops routes) use the same shape without importing it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Return the API's JSON error body with ``status``."""
    body: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message}
    if fields:
        body["fields"] = fields
    resp = jsonify({"error": body})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    if status == 401:
        resp.headers.setdefault("WWW-Authenticate", 'Bearer realm="notifier"')
    return resp
