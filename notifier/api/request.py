"""Request parsing for the API: the JSON body (400 rules), integer query params, limits.

What a body may hold is its contract model's business (``contract.parse``).
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from notifier.service import clean
from notifier.service.errors import ServiceError, ValidationError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
TOO_DEEP = f"JSON nested deeper than {clean.MAX_JSON_DEPTH} levels"


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would store bodies no client can read back.
    raise ValueError(f"{name} is not valid JSON")


def enforce_body_limit() -> None:
    """Answer 413 before anything else when the declared body is over NOTIFIER_MAX_BODY.

    Werkzeug only refuses an oversized body when a view reads it; checking the header up front
    gives every API route the same answer, whatever it reads. Bodies without a Content-Length
    are still cut off by MAX_CONTENT_LENGTH while being read.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def json_body(*, allow_empty: bool = False) -> dict[str, Any]:
    """Return the JSON object body; 400 for a wrong content type or malformed JSON."""
    if not request.content_length and not request.get_data(cache=True):
        if allow_empty:
            return {}
        raise ServiceError("a JSON body is required", code="invalid_json")
    if not request.is_json:
        raise ServiceError("Content-Type must be application/json", code="invalid_content_type")
    return parse_document(request.get_data(cache=True))


def parse_document(raw: bytes) -> dict[str, Any]:
    """Return the JSON object in ``raw`` or raise the 400/422 :func:`json_body` answers."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_number)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ServiceError(f"malformed JSON: {exc}", code="invalid_json") from exc
    except RecursionError as exc:  # thousands of nested brackets: the parser's own limit
        raise ServiceError(TOO_DEEP, code="invalid_json") from exc
    if not isinstance(data, dict):
        raise ServiceError("the JSON body must be an object", code="invalid_json")
    check_document(data)
    return data


def _number(text: str) -> float | int:
    """Read a JSON number with a fraction or exponent; an integral one is an integer.

    JSON Schema (and so our OpenAPI document and every generated client) counts ``4015.0`` as
    an integer, so an id written that way is the same id.
    """
    value = float(text)
    return int(value) if value.is_integer() else value


def check_document(data: Any) -> None:
    """Refuse a parsed body nested too deep (400) or holding an unstorable string (422).

    One walk here covers every field of every route, so no string with NUL or a lone
    surrogate reaches a service, a database row or a background worker.
    """
    try:
        bad = clean.find_bad_string(data)
    except clean.TooDeep as exc:
        raise ServiceError(TOO_DEEP, code="invalid_json") from exc
    if bad is not None:
        path, reason = bad
        raise ValidationError(f"{path} {reason}", fields={path: reason})


def int_arg(name: str, default: int, *, minimum: int | None = None) -> int:
    """Parse an integer query parameter; 422 naming it when it is not a valid integer."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(
            f"{name} must be an integer", fields={name: "not an integer"}
        ) from exc
    if minimum is not None and value < minimum:
        raise ValidationError(
            f"{name} must be at least {minimum}", fields={name: f"at least {minimum}"}
        )
    return value


def limit_arg() -> int:
    """Return ?limit=: default 20, below 1 is 422, above 100 is clamped to 100."""
    return min(int_arg("limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
