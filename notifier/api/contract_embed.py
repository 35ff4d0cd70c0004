"""Contract of the embeddable inbox (CONTRACT §11): embed settings and the widget's sign-in."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from notifier.api.contract import Body, Reply, operation
from notifier.api.openapi_common import ADMIN, BODY
from notifier.service.embed import MAX_ORIGINS, ORIGIN_PATTERN

Origin = Annotated[
    str, Field(max_length=200, pattern=ORIGIN_PATTERN, description="scheme://host[:port]")
]


class EmbedSettings(Reply):
    secret: str
    origins: list[Origin]


class EmbedOrigins(Body):
    origins: Annotated[list[Origin], Field(max_length=MAX_ORIGINS)]


class EmbedSessionRequest(Body):
    email: Annotated[str, Field(max_length=254)]
    hash: Annotated[str, Field(max_length=128, description="HMAC-SHA256 hex")]


class EmbedSession(Reply):
    token: str
    stream_token: str
    expires_in: int


operation(
    "get",
    "/api/v1/embed",
    "The tenant's embed secret and allowed origins (admin)",
    "embed",
    responses={"200": EmbedSettings},
    errors=ADMIN,
)
operation(
    "put",
    "/api/v1/embed",
    "Set the origins allowed to embed the inbox (admin)",
    "embed",
    body=EmbedOrigins,
    responses={"200": EmbedSettings},
    errors=f"{ADMIN} {BODY}",
)
operation(
    "post",
    "/api/v1/embed/session",
    "Sign an embedded inbox in: an inbox-scoped token for the signed email",
    "embed",
    body=EmbedSessionRequest,
    responses={"200": EmbedSession},
    errors=f"401 403 {BODY}",
    security=[],
)
