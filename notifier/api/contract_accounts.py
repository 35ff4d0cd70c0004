"""The contract of accounts (profile, preferences, tokens, users) and of the meta routes."""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from pydantic import Field

from notifier.api.contract import Body, Reply, operation
from notifier.api.fields import (
    HHMM,
    NullableTime,
    Phone,
    Time,
    TimeZone,
    TypeName,
    trimmed_pattern,
)
from notifier.api.openapi_common import (
    ADMIN,
    AUTH,
    BEFORE,
    BODY,
    LIMIT,
    NO_CONTENT,
    STRING,
    id_param,
    json_response,
)
from notifier.i18n import LOCALES
from notifier.service.preferences import DIGEST_MODES

Role = Literal["admin", "member"]
Email = Annotated[str, Field(json_schema_extra={"format": "email"})]
ANY_OBJECT = {"type": "object"}
PUBLIC: list[dict[str, list[str]]] = []
E164 = "must be E.164, like +15551234567"
#: The page languages (notifier/i18n.py); the service answers 422 for any other.
LocaleName = Annotated[
    str, Field(description="page language", json_schema_extra={"enum": list(LOCALES)})
]


# `= None` on a field that does not allow null: it may be left out, not sent as null (the
# generator drops such defaults from the document).
class ChannelFlags(Body):
    in_app: bool = None  # type: ignore[assignment]
    email: bool = None  # type: ignore[assignment]
    push: bool = None  # type: ignore[assignment]
    sms: bool = None  # type: ignore[assignment]
    chat: bool = None  # type: ignore[assignment]


class QuietHours(Body):
    enabled: bool = None  # type: ignore[assignment]
    start: HHMM = None  # type: ignore[assignment]
    end: HHMM = None  # type: ignore[assignment]
    timezone: TimeZone = None


class Preferences(Body):
    channels: ChannelFlags = None  # type: ignore[assignment]
    types: Annotated[
        dict[TypeName, ChannelFlags],
        Field(description="mandatory types (security) cannot turn in_app off"),
    ] = None  # type: ignore[assignment]
    quiet_hours: QuietHours = None  # type: ignore[assignment]
    digest: dict[TypeName, Literal[DIGEST_MODES]] = None  # type: ignore[valid-type,assignment]


def preferences_schema(schema: dict[str, Any], mandatory: tuple[str, ...]) -> dict[str, Any]:
    """Return the Preferences schema where each mandatory type keeps in_app on.

    The service refuses turning it off ("this type is mandatory in-app"); the names come from
    the app's configuration, so they are filled in when the document is built.
    """
    out = copy.deepcopy(schema)
    flags = {c: {"type": "boolean"} for c in ChannelFlags.model_fields}
    on = {
        "type": "object",
        "properties": {**flags, "in_app": {"const": True}},
        "additionalProperties": False,
    }
    out["properties"]["types"]["properties"] = {t: on for t in mandatory}
    return out


class User(Reply):
    id: int
    email: Email
    role: Role
    tenant: str
    timezone: Annotated[str, Field(examples=["Europe/Paris"])]
    phone: Annotated[str | None, Field(description="E.164")]
    locale: LocaleName


class NewUser(Body):
    MESSAGES = {"phone": E164, "password:string_too_short": "at least 8 characters"}

    email: Email
    password: Annotated[
        str | None,
        Field(min_length=8, description="null or left out: one is generated and returned once"),
    ] = None
    role: Role = "member"
    timezone: TimeZone = "UTC"
    phone: Phone = None


class CreatedUser(User):
    password: Annotated[
        str, Field(description="generated when none was given; shown only in this answer")
    ] = None  # type: ignore[assignment]


class ProfilePatch(Body):
    """id, email, role and tenant are read-only here (422)"""

    MESSAGES = {"phone": E164}
    READONLY = ("id", "email", "role", "tenant")

    timezone: TimeZone = None
    phone: Phone = None
    locale: LocaleName = None  # type: ignore[assignment]


class UserPage(Reply):
    items: list[User]
    next: str | None


class Token(Reply):
    id: int
    name: str
    prefix: Annotated[str, Field(description="first characters, to recognise it")]
    created_at: Time
    last_used_at: NullableTime
    revoked: bool


class TokenList(Reply):
    items: list[Token]


class NewToken(Body):
    MESSAGES = {"name:string_pattern_mismatch": "1 to 100 characters, not only whitespace"}

    name: Annotated[
        str,
        Field(
            pattern=trimmed_pattern(100),
            description="1 to 100 characters after surrounding whitespace is removed",
        ),
    ]


class CreatedToken(Reply):
    id: int
    name: str
    token: Annotated[str, Field(description="the secret; shown only in this answer")]


class StreamToken(Reply):
    token: str
    expires_in: int


PREFS = "/api/v1/preferences"
operation(
    "get", PREFS, "Get the caller's preferences", "preferences", responses={"200": Preferences}
)
operation(
    "put",
    PREFS,
    "Replace the caller's preferences (left-out fields: defaults)",
    "preferences",
    body=Preferences,
    responses={"200": Preferences},
    errors=f"{AUTH} {BODY}",
)
operation(
    "patch",
    PREFS,
    "Merge into the caller's preferences",
    "preferences",
    body=Preferences,
    responses={"200": Preferences},
    errors=f"{AUTH} {BODY}",
)
operation("get", "/api/v1/me", "Get the caller's profile", "users", responses={"200": User})
operation(
    "patch",
    "/api/v1/me",
    "Change the caller's timezone, phone or page language (locale)",
    "users",
    body=ProfilePatch,
    responses={"200": User},
    errors=f"{AUTH} {BODY}",
)
operation(
    "post",
    "/api/v1/users",
    "Create a user in the admin's tenant",
    "users",
    body=NewUser,
    responses={"201": (CreatedUser, "Created")},
    errors=f"{ADMIN} {BODY} 409",
)
operation(
    "get",
    "/api/v1/users",
    "List the admin's tenant users, newest first",
    "users",
    responses={"200": UserPage},
    errors=f"{ADMIN} 400 422",
    params=(LIMIT, BEFORE),
)
operation(
    "get", "/api/v1/tokens", "List the caller's API tokens", "tokens", responses={"200": TokenList}
)
operation(
    "post",
    "/api/v1/tokens",
    "Create an API token for the caller",
    "tokens",
    body=NewToken,
    responses={"201": (CreatedToken, "Created")},
    errors=f"{AUTH} {BODY} 409",
)
operation(
    "delete",
    "/api/v1/tokens/{token_id}",
    "Revoke one of the caller's tokens",
    "tokens",
    responses=NO_CONTENT,
    errors="401 404",
    params=(id_param("token_id"),),
)
operation(
    "post",
    "/api/v1/stream-token",
    "Get a token for ?token= on the stream (EventSource)",
    "stream",
    responses={"200": StreamToken},
)
operation(
    "get",
    "/api/v1/openapi.json",
    "This document",
    "meta",
    responses={"200": json_response(ANY_OBJECT)},
    errors="",
    security=PUBLIC,
)
operation(
    "get",
    "/metrics",
    "Prometheus metrics (an admin token, or a client on the loopback without a proxy)",
    "meta",
    responses={
        "200": {"description": "Prometheus text", "content": {"text/plain": {"schema": STRING}}}
    },
    errors="401 403",
    security=[{"bearer": []}, {}],
)
operation(
    "get",
    "/healthz",
    "Liveness",
    "meta",
    responses={"200": json_response(ANY_OBJECT)},
    errors="",
    security=PUBLIC,
)
operation(
    "get",
    "/readyz",
    "Readiness of this process: 200 while its database is reachable and writable "
    "(status ready, or degraded with Redis down), 503 otherwise",
    "meta",
    responses={"200": json_response(ANY_OBJECT), "503": json_response(ANY_OBJECT, "Not ready")},
    errors="",
    security=PUBLIC,
)
