"""OpenAPI paths and schemas of accounts (profile, preferences, tokens, users) and meta."""

from __future__ import annotations

import copy
from typing import Any

from notifier.api.openapi_common import (
    ADMIN,
    AUTH,
    BEFORE,
    BODY,
    INTEGER,
    LIMIT,
    NO_CONTENT,
    NULLABLE_TIME,
    STRING,
    TIME,
    array,
    id_param,
    json_response,
    obj,
    op,
    ref,
)
from notifier.api.openapi_fields import E164_OR_EMPTY, HHMM, TYPE, timezone_schema, trimmed
from notifier.service.preferences import DIGEST_MODES

TIMEZONE = ref("TimeZone")
ROLE = {"enum": ["admin", "member"]}
ANY_OBJECT = {"type": "object"}
PUBLIC: list[dict[str, list[str]]] = []
CHANNEL_FLAGS = {
    "type": "object",
    "properties": {c: {"type": "boolean"} for c in ("in_app", "email", "push", "sms", "chat")},
    "additionalProperties": False,
}

SCHEMAS: dict[str, Any] = {
    "Preferences": obj(
        {
            "channels": CHANNEL_FLAGS,
            "types": {
                "type": "object",
                "propertyNames": TYPE,
                "additionalProperties": CHANNEL_FLAGS,
                # Filled in by preferences_schema() with the server's mandatory types.
                "properties": {},
                "description": "mandatory types (security) cannot turn in_app off",
            },
            "quiet_hours": obj(
                {
                    "enabled": {"type": "boolean"},
                    "start": HHMM,
                    "end": HHMM,
                    "timezone": TIMEZONE,
                },
                additionalProperties=False,
            ),
            "digest": {
                "type": "object",
                "propertyNames": TYPE,
                "additionalProperties": {"enum": list(DIGEST_MODES)},
            },
        },
        additionalProperties=False,
    ),
    "User": obj(
        {
            "id": INTEGER,
            "email": {"type": "string", "format": "email"},
            "role": ROLE,
            "tenant": STRING,
            "timezone": {"type": "string", "examples": ["Europe/Paris"]},
            "phone": {"type": ["string", "null"], "description": "E.164"},
        },
        ("id", "email", "role", "tenant", "timezone", "phone"),
    ),
    "NewUser": obj(
        {
            "email": {"type": "string", "format": "email"},
            "password": {
                "type": ["string", "null"],
                "minLength": 8,
                "description": "null or left out: one is generated and returned once",
            },
            "role": {**ROLE, "default": "member"},
            "timezone": {**TIMEZONE, "default": "UTC"},
            "phone": E164_OR_EMPTY,
        },
        ("email",),
        additionalProperties=False,
    ),
    "CreatedUser": {
        "allOf": [
            ref("User"),
            obj(
                {
                    "password": {
                        "type": "string",
                        "description": "generated when none was given; shown only in this answer",
                    }
                }
            ),
        ]
    },
    "ProfilePatch": obj(
        {"timezone": TIMEZONE, "phone": E164_OR_EMPTY},
        additionalProperties=False,
        description="id, email, role and tenant are read-only here (422)",
    ),
    "UserPage": obj(
        {"items": array(ref("User")), "next": {"type": ["string", "null"]}}, ("items", "next")
    ),
    "Token": obj(
        {
            "id": INTEGER,
            "name": STRING,
            "prefix": {"type": "string", "description": "first characters, to recognise it"},
            "created_at": TIME,
            "last_used_at": NULLABLE_TIME,
            "revoked": {"type": "boolean"},
        },
        ("id", "name", "prefix", "created_at", "last_used_at", "revoked"),
    ),
    "TokenList": obj({"items": array(ref("Token"))}, ("items",)),
    "NewToken": obj({"name": trimmed(100)}, ("name",), additionalProperties=False),
    "CreatedToken": obj(
        {
            "id": INTEGER,
            "name": STRING,
            "token": {"type": "string", "description": "the secret; shown only in this answer"},
        },
        ("id", "name", "token"),
    ),
    "StreamToken": obj({"token": STRING, "expires_in": INTEGER}, ("token", "expires_in")),
    "TimeZone": timezone_schema(),
}


def preferences_schema(mandatory: tuple[str, ...]) -> dict[str, Any]:
    """Return the Preferences schema where each mandatory type keeps in_app on."""
    schema = copy.deepcopy(SCHEMAS["Preferences"])
    on = {**CHANNEL_FLAGS, "properties": {**CHANNEL_FLAGS["properties"], "in_app": {"const": True}}}
    schema["properties"]["types"]["properties"] = {t: on for t in mandatory}
    return schema


PATHS: dict[str, Any] = {
    "/api/v1/preferences": {
        "get": op(
            "Get the caller's preferences", "preferences", {"200": json_response("Preferences")}
        ),
        **{
            method: op(
                summary,
                "preferences",
                {"200": json_response("Preferences")},
                errors=f"{AUTH} {BODY}",
                body="Preferences",
            )
            for method, summary in (
                ("put", "Replace the caller's preferences (left-out fields: defaults)"),
                ("patch", "Merge into the caller's preferences"),
            )
        },
    },
    "/api/v1/me": {
        "get": op("Get the caller's profile", "users", {"200": json_response("User")}),
        "patch": op(
            "Change the caller's timezone or phone",
            "users",
            {"200": json_response("User")},
            errors=f"{AUTH} {BODY}",
            body="ProfilePatch",
        ),
    },
    "/api/v1/users": {
        "post": op(
            "Create a user in the admin's tenant",
            "users",
            {"201": json_response("CreatedUser", "Created")},
            errors=f"{ADMIN} {BODY} 409",
            body="NewUser",
        ),
        "get": op(
            "List the admin's tenant users, newest first",
            "users",
            {"200": json_response("UserPage")},
            errors=f"{ADMIN} 400 422",
            params=(LIMIT, BEFORE),
        ),
    },
    "/api/v1/tokens": {
        "get": op("List the caller's API tokens", "tokens", {"200": json_response("TokenList")}),
        "post": op(
            "Create an API token for the caller",
            "tokens",
            {"201": json_response("CreatedToken", "Created")},
            errors=f"{AUTH} {BODY} 409",
            body="NewToken",
        ),
    },
    "/api/v1/tokens/{token_id}": {
        "delete": op(
            "Revoke one of the caller's tokens",
            "tokens",
            NO_CONTENT,
            errors="401 404",
            params=(id_param("token_id"),),
        ),
    },
    "/api/v1/stream-token": {
        "post": op(
            "Get a token for ?token= on the stream (EventSource)",
            "stream",
            {"200": json_response("StreamToken")},
        ),
    },
    "/api/v1/openapi.json": {
        "get": op(
            "This document", "meta", {"200": json_response(ANY_OBJECT)}, errors="", security=PUBLIC
        ),
    },
    "/metrics": {
        "get": op(
            "Prometheus metrics (an admin token, or a client on the loopback without a proxy)",
            "meta",
            {
                "200": {
                    "description": "Prometheus text",
                    "content": {"text/plain": {"schema": STRING}},
                }
            },
            errors="401 403",
            security=[{"bearer": []}, {}],
        ),
    },
    "/healthz": {
        "get": op(
            "Liveness", "meta", {"200": json_response(ANY_OBJECT)}, errors="", security=PUBLIC
        ),
    },
    "/readyz": {
        "get": op(
            "Readiness of this process: 200 while its database is reachable and writable "
            "(status ready, or degraded with Redis down), 503 otherwise",
            "meta",
            {"200": json_response(ANY_OBJECT), "503": json_response(ANY_OBJECT, "Not ready")},
            errors="",
            security=PUBLIC,
        ),
    },
}
