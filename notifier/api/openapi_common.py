"""Building blocks of the OpenAPI document: operations, parameters, shared errors, security.

Request and response bodies are contract models (``contract.py``); what is left here is the
part of the document that is not a JSON body: query, path and header parameters, the shared
error responses by status and the security schemes, plus ``obj`` and ``json_response`` for the
few answers that are no JSON model (the SSE event, health documents).
"""

from __future__ import annotations

from typing import Any

INTEGER = {"type": "integer"}
STRING = {"type": "string"}
# Shared error responses by status; operations list the statuses they can answer.
ERRORS = {
    "400": (
        "BadRequest",
        "Malformed JSON (invalid_json), wrong Content-Type (invalid_content_type) or a malformed "
        "cursor (bad_cursor).",
    ),
    "401": (
        "Unauthorized",
        "No credentials (unauthorized) or a bad, revoked or expired token (invalid_token).",
    ),
    "403": ("Forbidden", "The caller's role may not do this (forbidden)."),
    "404": (
        "NotFound",
        "Missing, belongs to another user or tenant, or an id beyond the database's range "
        "(not_found).",
    ),
    "409": (
        "Conflict",
        "Conflicts with stored state (email_taken, idempotency_conflict, idempotency_in_progress).",
    ),
    "413": ("PayloadTooLarge", "Body over NOTIFIER_MAX_BODY bytes (payload_too_large)."),
    "422": (
        "ValidationFailed",
        "A field failed validation (validation_error, unknown_recipient), or a string holds NUL "
        "or a lone surrogate; `fields` names each.",
    ),
    "429": ("TooManyRequests", "Rate limited (rate_limited); retry after Retry-After seconds."),
    "503": ("Unavailable", "This process is at its connection cap (server_busy); retry."),
}
AUTH = "401"
ADMIN = "401 403"
BODY = "400 413 422"


def ref(name: str) -> dict[str, str]:
    """Return a $ref to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """Return an object schema with these properties, ``required`` naming the mandatory ones."""
    return {"type": "object", "properties": props, "required": list(required), **extra}


def param(
    name: str,
    where: str = "query",
    schema: dict[str, Any] | None = None,
    description: str = "",
    *,
    empty_ok: bool = False,
) -> dict[str, Any]:
    """Return a parameter object (path parameters are required).

    ``empty_ok``: the server reads an empty query value (``?status=``) as the parameter left out.
    """
    out: dict[str, Any] = {"name": name, "in": where, "schema": schema or STRING}
    if where == "path":
        out["required"] = True
    if empty_ok:
        out["allowEmptyValue"] = True
    if description:
        out["description"] = description
    return out


def json_response(schema: str | dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """Return a JSON response object for a component name or an inline schema."""
    body = ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": body}}}


def op(
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    errors: str = AUTH,
    body: str | None = None,
    body_required: bool = True,
    params: tuple[dict[str, Any], ...] = (),
    security: list[dict[str, list[str]]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    """Return an operation object; ``errors`` lists the shared error statuses it can answer.

    ``body_required`` False: the body may be left out (an empty request reads as ``{}``).
    """
    out: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": dict(responses)}
    for status in errors.split():
        out["responses"][status] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    if body:
        out["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": ref(body)}},
        }
    if params:
        out["parameters"] = list(params)
    if security is not None:
        out["security"] = security
    if description:
        out["description"] = description
    return out


def id_param(name: str) -> dict[str, Any]:
    """Return a positive integer path parameter (404 when nothing has that id)."""
    return param(name, "path", {"type": "integer", "minimum": 1})


NO_CONTENT = {"204": {"description": "Done; no body."}}
LIMIT = param(
    "limit",
    schema={"type": "integer", "default": 20, "minimum": 1},
    description="page size; above 100 is treated as 100, below 1 is 422",
    empty_ok=True,
)
CURSOR_ID = {
    "type": "integer",
    "minimum": 1,
    "maximum": 2**63 - 1,
    "description": "the `next` value of the previous page (a positive id; 400 bad_cursor "
    "otherwise)",
}
BEFORE = param("before", schema=CURSOR_ID, empty_ok=True)

RESPONSES: dict[str, Any] = {
    name: {"description": text, "content": {"application/json": {"schema": ref("Error")}}}
    for name, text in ERRORS.values()
}
RESPONSES["TooManyRequests"]["headers"] = {
    "Retry-After": {"schema": INTEGER, "description": "seconds to wait"}
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`ntf_…`), stored hashed; create one with "
        "POST /api/v1/tokens or `flask create-token`.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The browser session after POST /login; GET requests only.",
    },
    "streamToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "From POST /api/v1/stream-token, for EventSource clients; the stream "
        "route only.",
    },
}
