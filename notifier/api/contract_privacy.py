"""Contract of privacy (CONTRACT §11): export, erase, per-tenant notification retention."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from notifier.api.contract import Body, Reply, operation
from notifier.api.openapi_common import ADMIN, AUTH, BODY, NO_CONTENT, id_param
from notifier.service.retention import MAX_RETENTION_DAYS

Rows = list[dict[str, Any]]
RetentionDays = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="days a notification is kept; null keeps them forever",
    ),
]


class UserExport(Reply):
    version: int
    exported_at: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    account: dict[str, Any]
    notifications: Rows
    deliveries: Rows
    preferences: dict[str, Any]
    push_subscriptions: Rows = Field(default_factory=list)
    tokens: Annotated[Rows, Field(description="names and times; never the secret or its hash")] = (
        Field(default_factory=list)
    )
    sessions: Rows = Field(default_factory=list)
    other: Annotated[
        dict[str, Rows],
        Field(description="rows of every other table about the user, by table name"),
    ] = Field(default_factory=dict)


class EraseConfirmation(Body):
    password: Annotated[str, Field(min_length=1)]

    @classmethod
    def cross_errors(cls, raw: dict[str, Any]) -> dict[str, str]:
        """Keep the service's wording for a missing or empty password ("required")."""
        password = raw.get("password")
        return {} if isinstance(password, str) and password else {"password": "required"}


class Tenant(Reply):
    id: int
    name: str
    retention_days: RetentionDays


class TenantPatch(Body):
    READONLY = ("id", "name")
    retention_days: RetentionDays = None


USER_ID = (id_param("user_id"),)

operation(
    "get",
    "/api/v1/me/export",
    "Everything stored about the caller, as one JSON document",
    "privacy",
    responses={"200": UserExport},
)
operation(
    "delete",
    "/api/v1/me",
    "Erase the caller and every row about them (confirm with the password)",
    "privacy",
    body=EraseConfirmation,
    responses=NO_CONTENT,
    errors=f"{AUTH} 403 {BODY}",
    description="A wrong password is 403 `wrong_password`; open streams close.",
)
operation(
    "get",
    "/api/v1/users/{user_id}/export",
    "Everything stored about a user of the admin's tenant",
    "privacy",
    responses={"200": UserExport},
    errors=f"{ADMIN} 404",
    params=USER_ID,
)
operation(
    "delete",
    "/api/v1/users/{user_id}",
    "Erase a user of the admin's tenant and every row about them",
    "privacy",
    responses=NO_CONTENT,
    errors=f"{ADMIN} 404 409",
    params=USER_ID,
    description="409 `is_self` for the admin's own account (use DELETE /api/v1/me).",
)
operation(
    "get",
    "/api/v1/tenant",
    "The admin's tenant settings",
    "privacy",
    responses={"200": Tenant},
    errors=ADMIN,
)
operation(
    "patch",
    "/api/v1/tenant",
    "Set the tenant's notification retention",
    "privacy",
    body=TenantPatch,
    responses={"200": Tenant},
    errors=f"{ADMIN} {BODY}",
)
