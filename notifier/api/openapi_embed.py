"""OpenAPI paths and schemas of the embeddable inbox (CONTRACT §11)."""

from __future__ import annotations

from typing import Any

from notifier.api.openapi_common import ADMIN, BODY, INTEGER, STRING, array, json_response, obj, op
from notifier.service.embed import MAX_ORIGINS, ORIGIN_PATTERN

ORIGIN = {
    "type": "string",
    "maxLength": 200,
    "pattern": ORIGIN_PATTERN,
    "description": "scheme://host[:port]",
}

SCHEMAS: dict[str, Any] = {
    "EmbedSettings": obj({"secret": STRING, "origins": array(ORIGIN)}, ("secret", "origins")),
    "EmbedOrigins": obj(
        {"origins": array(ORIGIN, maxItems=MAX_ORIGINS)},
        ("origins",),
        additionalProperties=False,
    ),
    "EmbedSessionRequest": obj(
        {
            "email": {"type": "string", "maxLength": 254},
            "hash": {"type": "string", "maxLength": 128, "description": "HMAC-SHA256 hex"},
        },
        ("email", "hash"),
        additionalProperties=False,
    ),
    "EmbedSession": obj(
        {"token": STRING, "stream_token": STRING, "expires_in": INTEGER},
        ("token", "stream_token", "expires_in"),
    ),
}

PATHS: dict[str, Any] = {
    "/api/v1/embed": {
        "get": op(
            "The tenant's embed secret and allowed origins (admin)",
            "embed",
            {"200": json_response("EmbedSettings")},
            errors=ADMIN,
        ),
        "put": op(
            "Set the origins allowed to embed the inbox (admin)",
            "embed",
            {"200": json_response("EmbedSettings")},
            errors=f"{ADMIN} {BODY}",
            body="EmbedOrigins",
        ),
    },
    "/api/v1/embed/session": {
        "post": op(
            "Sign an embedded inbox in: an inbox-scoped token for the signed email",
            "embed",
            {"200": json_response("EmbedSession")},
            errors=f"401 403 {BODY}",
            body="EmbedSessionRequest",
            security=[],
        ),
    },
}
