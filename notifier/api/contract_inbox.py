"""The contract of publishing and the inbox: request and response models, operations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from notifier.api.contract import Body, Reply, component, operation
from notifier.api.fields import (
    NOT_BLANK,
    EntityId,
    Link,
    NotificationId,
    NullableTime,
    Priority,
    SendAt,
    Tag,
    Time,
    Title,
    TypeName,
    UserId,
)
from notifier.api.openapi_common import (
    ADMIN,
    AUTH,
    BODY,
    NO_CONTENT,
    id_param,
    param,
    ref,
)
from notifier.channels import CHANNEL_NAMES as ALL_CHANNELS
from notifier.service.inbox import ACTIONS

RECIPIENTS = ("user_id", "email", "user_ids", "tenant")
MAX_RECIPIENTS = 10_000
ONE_RECIPIENT = "give exactly one of user_id, email, user_ids or tenant: true"


class PublishRequest(Body):
    """Exactly one recipient: user_id, email, user_ids or tenant: true (422 otherwise; null is
    the same as left out). Unknown fields are refused (422)."""

    model_config = ConfigDict(
        # Each branch holds when its field is present and not null: exactly one may.
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in RECIPIENTS
            ]
        }
    )
    MESSAGES = {
        "user_id": "must be a positive integer",
        "email:string_type": "must be an email address",
        "user_ids:too_long": f"at most {MAX_RECIPIENTS} recipients",
        "user_ids": "a non-empty list of user ids",
        "tenant": "must be true",
        "type:string_pattern_mismatch": "letters, digits and _.:- only, at most 64",
        "title:string_pattern_mismatch": "is required",
        "tags:too_long": "at most 10 tags",
        "tags": "a list of tags (letters, digits and _.:- only, at most 50 each)",
        "channels": "a non-empty list of " + ", ".join(ALL_CHANNELS),
        "url:string_pattern_mismatch": "must be an http(s) URL or a path starting with /",
        "send_at:string_pattern_mismatch": "must be an ISO 8601 time in the years 1970 to 9999",
    }

    user_id: UserId | None = None
    email: Annotated[str | None, Field(json_schema_extra={"format": "email"})] = None
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=MAX_RECIPIENTS)] | None = None
    tenant: Literal[True] | None = None
    type: TypeName
    title: Title
    body: Annotated[str | None, Field(max_length=10000)] = None
    priority: Priority = "normal"
    entity_type: Annotated[str | None, Field(max_length=64)] = None
    entity_id: EntityId = None
    url: Link = None
    tags: Annotated[list[Tag], Field(max_length=10)] | None = None
    channels: Annotated[list[Literal[ALL_CHANNELS]], Field(min_length=1)] | None = None  # type: ignore[valid-type]
    send_at: SendAt = None
    group_key: Annotated[
        str | None,
        Field(
            max_length=255,
            description="items sharing a key collapse into one row with ?group=true",
        ),
    ] = None
    data: Annotated[
        dict[str, Any] | None,
        Field(
            description="variables of the type's templates (CONTRACT §10): `{{ data.x }}`; "
            "a variable a template needs and data lacks is 422 naming it"
        ),
    ] = None
    # Each action's shape is the Action model (contract_inboxux); validate_content checks it.
    actions: Annotated[
        list[Annotated[Any, component("Action")]] | None,
        Field(
            max_length=3,
            description="up to 3 buttons; the first is primary unless it says otherwise",
        ),
    ] = None

    @classmethod
    def cross_errors(cls, raw: dict[str, Any]) -> dict[str, str]:
        """Exactly one recipient form, named on each one given (or on user_id when none is)."""
        given = [f for f in RECIPIENTS if raw.get(f) is not None]
        if not given:
            return {"user_id": "give one of user_id, email, user_ids or tenant: true"}
        return {f: ONE_RECIPIENT for f in given} if len(given) > 1 else {}

    def recipient(self) -> dict[str, Any]:
        """Return {form: value} of the one recipient form given."""
        return {f: getattr(self, f) for f in RECIPIENTS if getattr(self, f) is not None}


class BulkRequest(Body):
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    ids: Annotated[list[NotificationId], Field(max_length=1000)]

    MESSAGES = {"ids": "a list of ids", "ids:too_long": "at most 1000"}


class Group(Reply):
    key: str
    count: int


class Notification(Reply):
    id: int
    type: str
    title: str
    body: str
    priority: Priority
    entity_type: str | None
    entity_id: str | None
    url: str | None
    tags: list[str]
    created_at: Time
    is_read: bool
    read_at: NullableTime
    seen_at: NullableTime
    archived_at: NullableTime
    snoozed_until: NullableTime
    group_key: str | None
    actions: list[Annotated[Any, component("Action")]]
    group: Annotated[
        Group | None,
        Field(description="only with ?group=true: the group this newest item stands for"),
    ] = None


class NotifyResult(Reply):
    success: bool
    channels: dict[str, bool]
    errors: dict[str, str]


class PublishedOne(Reply):
    notification: Annotated[
        Notification | None,
        Field(description="null when the recipient's preferences keep it out of the inbox"),
    ]
    result: NotifyResult


class PublishedMany(Reply):
    count: Annotated[int, Field(description="inbox notifications created")]
    recipients: int | None = None
    ids: list[int]
    result: NotifyResult


class ScheduledAt(Reply):
    id: int
    send_at: Time


class Scheduled(Reply):
    scheduled: ScheduledAt
    result: NotifyResult


class NotificationPage(Reply):
    items: list[Notification]
    unread: int
    total: int
    next: Annotated[
        str | None, Field(description="pass as ?before= for the next page; null on the last")
    ]
    cursor: Annotated[
        int,
        Field(
            description="the caller's event cursor this page was read at: open the stream "
            "with ?after=<cursor> (or Last-Event-ID) to miss nothing since"
        ),
    ]


class Stats(Reply):
    total: int
    unread: int
    read: int
    unseen: int
    archived: int


class BulkResult(Reply):
    updated: int
    not_found: Annotated[list[int], Field(description="missing ids and ids of other users")]


class Updated(Reply):
    updated: int


NID = id_param("notification_id")
ONE = {"200": Notification}
IDEMPOTENCY_KEY = param(
    "Idempotency-Key",
    "header",
    {"type": "string", "pattern": NOT_BLANK, "maxLength": 255},
    "Same key and body within 24 h: the first answer again (Idempotent-Replayed: true); same "
    "key with another body: 409 idempotency_conflict. Scoped to the calling user.",
)
PUBLISHED = {
    "description": "Sent. One recipient (user_id or email): PublishedOne; a list or the tenant: "
    "PublishedMany, even when it holds one user.",
    "content": {
        "application/json": {"schema": {"oneOf": [ref("PublishedOne"), ref("PublishedMany")]}}
    },
}

operation(
    "post",
    "/api/v1/notifications",
    "Publish a notification",
    "notifications",
    body=PublishRequest,
    responses={"201": PUBLISHED, "202": (Scheduled, "send_at is in the future.")},
    errors=f"{ADMIN} {BODY} 409 429",
    params=(IDEMPOTENCY_KEY,),
    description="Admins publish to users of their own tenant; anyone else is 422 "
    "unknown_recipient. Rate limited per calling user (NOTIFIER_RATE_LIMIT_PUBLISH).",
)
operation(
    "get",
    "/api/v1/notifications/stats",
    "Count the caller's notifications",
    "notifications",
    responses={"200": Stats},
)
operation(
    "post",
    "/api/v1/notifications/read-all",
    "Mark all read",
    "notifications",
    responses={"200": Updated},
)
operation(
    "post",
    "/api/v1/notifications/bulk",
    "Read, unread or delete many notifications",
    "notifications",
    body=BulkRequest,
    responses={"200": BulkResult},
    errors=f"{AUTH} {BODY}",
)
ONE_PATH = "/api/v1/notifications/{notification_id}"
operation(
    "get",
    ONE_PATH,
    "Get one notification",
    "notifications",
    responses=ONE,
    errors="401 404",
    params=(NID,),
)
operation(
    "delete",
    ONE_PATH,
    "Delete one notification",
    "notifications",
    responses=NO_CONTENT,
    errors="401 404",
    params=(NID,),
)
# The list, read / unread and the other state changes: contract_states (CONTRACT §9).
