"""Serve the hand-written OpenAPI 3.1 document (no auth: integrators read it first)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from notifier.api import (
    bp,
    openapi_accounts,
    openapi_channels,
    openapi_embed,
    openapi_inbox,
    openapi_stream,
    openapi_ws,
)
from notifier.api.openapi_common import ERROR_SCHEMA, RESPONSES, SECURITY_SCHEMES
from notifier.config import Config


def document(mandatory_types: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Return the whole document; tests hold its paths to the app's url_map both ways.

    ``mandatory_types``: the types whose in-app switch stays on (NOTIFIER_MANDATORY_TYPES; the
    default configuration's when not given).
    """
    mandatory = Config.NOTIFIER_MANDATORY_TYPES if mandatory_types is None else mandatory_types
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Notifier API",
            "version": "1",
            "description": "Real-time notification center. JSON in and out; every error is "
            '`{"error": {"code", "message", "fields"}}`; times are ISO 8601 UTC with Z; '
            "ids are integers and entity_id is a string. No string may hold NUL or a lone "
            "surrogate (422; on PostgreSQL ids of users and most rows stop at 2^31-1).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            **openapi_inbox.PATHS,
            **openapi_ws.with_types(openapi_stream.PATHS),
            **openapi_ws.PATHS,
            **openapi_embed.PATHS,
            **openapi_channels.PATHS,
            **openapi_accounts.PATHS,
        },
        "components": {
            "schemas": {
                "Error": ERROR_SCHEMA,
                **openapi_inbox.SCHEMAS,
                **openapi_stream.SCHEMAS,
                **openapi_embed.SCHEMAS,
                **openapi_channels.SCHEMAS,
                **openapi_accounts.SCHEMAS,
                "Preferences": openapi_accounts.preferences_schema(tuple(mandatory)),
            },
            "responses": RESPONSES,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    """Return the OpenAPI 3.1 document of this API."""
    return jsonify(document(tuple(current_app.config.get("NOTIFIER_MANDATORY_TYPES", ()))))
