"""Request parsing helpers for the API: JSON bodies, integer params, limits."""

from __future__ import annotations

from typing import Any

from flask import request

from notifier.service.errors import ServiceError, ValidationError


def json_body(*, allow_empty: bool = False) -> dict[str, Any]:
    """Return the JSON object body; 400 for a wrong content type or malformed JSON."""
    if not request.content_length and not request.data:
        if allow_empty:
            return {}
        raise ServiceError("a JSON body is required", code="invalid_json")
    if not request.is_json:
        raise ServiceError("Content-Type must be application/json", code="invalid_content_type")
    data = request.get_json(silent=True)
    if data is None:
        raise ServiceError("malformed JSON", code="invalid_json")
    if not isinstance(data, dict):
        raise ServiceError("the JSON body must be an object", code="invalid_json")
    return data


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


def id_list(value: Any, field: str = "ids", limit: int = 1000) -> list[int]:
    """Validate a list of positive integer ids."""
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in value
    ):
        raise ValidationError(f"{field} must be a list of ids", fields={field: "list of integers"})
    if len(value) > limit:
        raise ValidationError(f"at most {limit} ids", fields={field: f"at most {limit}"})
    return value
