"""The contract of the inbox states, groups and search (CONTRACT §9): the list and its filters,
seen / archive / unarchive / snooze, the group switch on single-item changes, the bulk calls."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from notifier.api.contract import Body, operation
from notifier.api.contract_inbox import NID, ONE, ONE_PATH, NotificationPage, Updated
from notifier.api.fields import TIME_PATTERN
from notifier.api.openapi_common import AUTH, BEFORE, BODY, LIMIT, param
from notifier.models import PRIORITIES
from notifier.service.search import STATUSES


class SnoozeRequest(Body):
    MESSAGES = {"until": "an ISO 8601 time after now, within 30 days"}

    until: Annotated[
        str,
        Field(
            json_schema_extra={"format": "date-time"},
            description="after now, at most 30 days ahead (else 422)",
        ),
    ]


class ArchiveAllRequest(Body):
    MESSAGES = {"status": 'must be "read" or left out'}

    status: Annotated[
        Literal["read"] | None, Field(description="read: only the read ones (null: all)")
    ] = None


GROUP_ARG = param(
    "group",
    schema={"enum": ["true", "false"]},
    description="true: the change applies to every member of the group the item heads",
    empty_ok=True,
)
# RFC 3339 in the years parse_time accepts (as publish's send_at).
TIME_ARG = {"type": "string", "format": "date-time", "pattern": TIME_PATTERN}
_ONE_PRIORITY = "(?:" + "|".join(PRIORITIES) + ")"
PRIORITY_ARG = {"type": "string", "pattern": f"^{_ONE_PRIORITY}(?:,{_ONE_PRIORITY})*$"}
LIST_PARAMS = (
    param(
        "status",
        schema={"enum": list(STATUSES), "default": "all"},
        description="all is the inbox: neither archived nor snoozed",
        empty_ok=True,
    ),
    param("type", description="exact type", empty_ok=True),
    param("tag", description="exact tag (ci does not match cicd)", empty_ok=True),
    LIMIT,
    BEFORE,
    param(
        "q",
        schema={"type": "string", "maxLength": 200},
        empty_ok=True,
        description="words matched against title and body: case-insensitive, each a prefix, "
        "every one must match",
    ),
    param(
        "priority",
        schema=PRIORITY_ARG,
        description="one or more of low, normal, high, urgent, comma-separated",
        empty_ok=True,
    ),
    param("since", schema=TIME_ARG, description="created at or after (ISO 8601)", empty_ok=True),
    param("until", schema=TIME_ARG, description="created at or before (ISO 8601)", empty_ok=True),
    param(
        "group",
        schema={"enum": ["true", "false"], "default": "false"},
        empty_ok=True,
        description="true collapses items sharing a group_key into the newest, with group",
    ),
)

operation(
    "get",
    "/api/v1/notifications",
    "List the caller's notifications, newest first",
    "notifications",
    responses={"200": NotificationPage},
    errors=f"{AUTH} 400 422",
    params=LIST_PARAMS,
)
for _method in ("post", "put"):
    operation(
        _method,
        ONE_PATH + "/read",
        "Mark one read",
        "notifications",
        responses=ONE,
        errors="401 404 422",
        params=(NID, GROUP_ARG),
    )
for _action, _summary in (
    ("unread", "Mark one unread"),
    ("seen", "Mark one seen"),
    ("archive", "Archive one"),
    ("unarchive", "Bring one back from the archive"),
):
    operation(
        "post",
        f"{ONE_PATH}/{_action}",
        _summary,
        "notifications",
        responses=ONE,
        errors="401 404 422",
        params=(NID, GROUP_ARG),
    )
operation(
    "post",
    ONE_PATH + "/snooze",
    "Hide one until a time",
    "notifications",
    body=SnoozeRequest,
    responses=ONE,
    errors=f"401 404 {BODY}",
    params=(NID,),
)
operation(
    "post",
    "/api/v1/notifications/seen-all",
    "Mark all seen",
    "notifications",
    responses={"200": Updated},
)
operation(
    "post",
    "/api/v1/notifications/archive-all",
    "Archive all (or all read)",
    "notifications",
    body=ArchiveAllRequest,
    body_required=False,
    responses={"200": Updated},
    errors=f"{AUTH} {BODY}",
)
