"""Service-level errors that the API and the pages turn into 4xx answers."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: carries a machine code, a message, an HTTP status and per-field messages."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationError(ServiceError):
    """A field failed validation (422)."""

    status = 422
    code = "validation_error"


class NotFound(ServiceError):
    """The object is missing or belongs to someone else (404, never 403)."""

    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    """The caller's role may not do this (403)."""

    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The request conflicts with stored state (409)."""

    status = 409
    code = "conflict"
