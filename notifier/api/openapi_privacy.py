"""OpenAPI paths and schemas of privacy: export, erase, per-tenant notification retention."""

from __future__ import annotations

from typing import Any

from notifier.api.openapi_common import (
    ADMIN,
    AUTH,
    BODY,
    INTEGER,
    NO_CONTENT,
    STRING,
    TIME,
    array,
    id_param,
    json_response,
    obj,
    op,
)
from notifier.service.retention import MAX_RETENTION_DAYS

ROWS = array({"type": "object"})
RETENTION = {
    "type": ["integer", "null"],
    "minimum": 1,
    "maximum": MAX_RETENTION_DAYS,
    "description": "days a notification is kept; null keeps them forever",
}

SCHEMAS: dict[str, Any] = {
    "UserExport": obj(
        {
            "version": INTEGER,
            "exported_at": TIME,
            "account": {"type": "object"},
            "notifications": ROWS,
            "deliveries": ROWS,
            "preferences": {"type": "object"},
            "push_subscriptions": ROWS,
            "tokens": array(
                {"type": "object", "description": "names and times; never the secret or its hash"}
            ),
            "sessions": ROWS,
            "other": {
                "type": "object",
                "additionalProperties": ROWS,
                "description": "rows of every other table about the user, by table name",
            },
        },
        ("version", "exported_at", "account", "notifications", "deliveries", "preferences"),
    ),
    "EraseConfirmation": obj(
        {"password": {"type": "string", "minLength": 1}}, ("password",), additionalProperties=False
    ),
    "Tenant": obj(
        {"id": INTEGER, "name": STRING, "retention_days": RETENTION},
        ("id", "name", "retention_days"),
    ),
    "TenantPatch": obj({"retention_days": RETENTION}, additionalProperties=False),
}

USER_ID = (id_param("user_id"),)

PATHS: dict[str, Any] = {
    "/api/v1/me/export": {
        "get": op(
            "Everything stored about the caller, as one JSON document",
            "privacy",
            {"200": json_response("UserExport")},
        ),
    },
    "/api/v1/me": {
        "delete": op(
            "Erase the caller and every row about them (confirm with the password)",
            "privacy",
            NO_CONTENT,
            errors=f"{AUTH} 403 {BODY}",
            body="EraseConfirmation",
            description="A wrong password is 403 `wrong_password`; open streams close.",
        ),
    },
    "/api/v1/users/{user_id}/export": {
        "get": op(
            "Everything stored about a user of the admin's tenant",
            "privacy",
            {"200": json_response("UserExport")},
            errors=f"{ADMIN} 404",
            params=USER_ID,
        ),
    },
    "/api/v1/users/{user_id}": {
        "delete": op(
            "Erase a user of the admin's tenant and every row about them",
            "privacy",
            NO_CONTENT,
            errors=f"{ADMIN} 404 409",
            params=USER_ID,
            description="409 `is_self` for the admin's own account (use DELETE /api/v1/me).",
        ),
    },
    "/api/v1/tenant": {
        "get": op(
            "The admin's tenant settings", "privacy", {"200": json_response("Tenant")}, errors=ADMIN
        ),
        "patch": op(
            "Set the tenant's notification retention",
            "privacy",
            {"200": json_response("Tenant")},
            errors=f"{ADMIN} {BODY}",
            body="TenantPatch",
        ),
    },
}
