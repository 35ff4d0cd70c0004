"""The contract of chat integrations and scheduled sends (admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from notifier.api.contract import Body, Reply, operation
from notifier.api.contract_channels import Types
from notifier.api.fields import ChatUrl, NullableTime, Time
from notifier.api.openapi_common import ADMIN, BODY, CURSOR_ID, LIMIT, NO_CONTENT, id_param, param
from notifier.service.integrations import KINDS
from notifier.service.scheduled import LISTED

Kind = Literal[KINDS]  # type: ignore[valid-type]
Status = Literal[LISTED]  # type: ignore[valid-type]


class NewIntegration(Body):
    MESSAGES = {
        "kind": "must be " + " or ".join(KINDS),
        "url:string_pattern_mismatch": "must be an https URL",
    }

    kind: Kind
    url: ChatUrl
    types: Types = None


class Integration(Reply):
    id: int
    kind: Kind
    url: Annotated[
        str,
        Field(
            description="a hint only (scheme, host, last four characters): the URL is the "
            "secret that posts to the channel"
        ),
    ]
    types: Types
    created_at: Time


class IntegrationList(Reply):
    items: list[Integration]


class ScheduledSend(Reply):
    """A pending or failed scheduled send: what it says, to how many, when, how it stands."""

    id: int
    status: Status
    type: str
    title: str
    priority: str = None  # type: ignore[assignment]
    recipients: int
    send_at: Time
    created_at: Time = None  # type: ignore[assignment]
    created_by: int | None = None
    failed_at: NullableTime = None
    error: str | None = None


class ScheduledPage(Reply):
    items: list[ScheduledSend]
    next: str | None


operation(
    "post",
    "/api/v1/integrations",
    "Register a Slack or Discord incoming webhook for the tenant",
    "integrations",
    body=NewIntegration,
    responses={"201": (Integration, "Created")},
    errors=f"{ADMIN} {BODY}",
    description="Each notification of a matching type (all when `types` is left out) that a "
    "recipient's preferences let the `chat` channel carry is posted once, in the service's own "
    "message format, with webhook retries and dead letters.",
)
operation(
    "get",
    "/api/v1/integrations",
    "List the tenant's chat integrations (URLs as hints)",
    "integrations",
    responses={"200": IntegrationList},
    errors=ADMIN,
)
operation(
    "delete",
    "/api/v1/integrations/{integration_id}",
    "Retire a chat integration",
    "integrations",
    responses=NO_CONTENT,
    errors=f"{ADMIN} 404",
    params=(id_param("integration_id"),),
)
operation(
    "get",
    "/api/v1/scheduled",
    "List the tenant's pending and failed scheduled sends, oldest first",
    "scheduled",
    responses={"200": ScheduledPage},
    errors=f"{ADMIN} 400 422",
    params=(
        param("status", schema={"enum": list(LISTED)}, description="only this status"),
        LIMIT,
        param("after", schema=CURSOR_ID, empty_ok=True, description="`next` of a page"),
    ),
)
operation(
    "delete",
    "/api/v1/scheduled/{scheduled_id}",
    "Cancel a scheduled send before it goes out",
    "scheduled",
    responses=NO_CONTENT,
    errors=f"{ADMIN} 404 409",
    params=(id_param("scheduled_id"),),
)
