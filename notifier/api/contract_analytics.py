"""Contract of analytics and learned active hours (CONTRACT §10)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from notifier.api.contract import Reply, operation
from notifier.api.fields import TIME_PATTERN, TYPE_PATTERN
from notifier.api.openapi_common import ADMIN, AUTH, param
from notifier.service.analytics import BY, CHANNELS

Count = Annotated[int, Field(ge=0)]
Rate = Annotated[float | None, Field(ge=0, le=1, description="null when delivered is 0")]
TIME_ARG = {"type": "string", "format": "date-time", "pattern": TIME_PATTERN}


class AnalyticsRow(Reply):
    key: Annotated[
        str | None,
        Field(description="the type, channel, variant (null: none) or UTC day (YYYY-MM-DD)"),
    ]
    sent: Count
    delivered: Count
    failed: Count
    seen: Count
    read: Count
    clicked: Count
    read_rate: Rate
    click_rate: Rate


class Analytics(Reply):
    rows: list[AnalyticsRow]


class ActiveHours(Reply):
    timezone: str
    hours: Annotated[
        list[Annotated[float, Field(ge=0)]],
        Field(min_length=24, max_length=24, description="weight per local hour 0-23"),
    ]
    samples: Annotated[int, Field(ge=0, description="reads, clicks and connects counted")]


operation(
    "get",
    "/api/v1/analytics",
    "Sent, delivered, failed, seen, read and clicked messages of the tenant, grouped",
    "analytics",
    responses={"200": Analytics},
    errors=f"{ADMIN} 422",
    params=(
        param(
            "since",
            schema=TIME_ARG,
            description="created at or after (default: 30 days before until)",
            empty_ok=True,
        ),
        param("until", schema=TIME_ARG, description="created before (default: now)", empty_ok=True),
        param("by", schema={"enum": list(BY), "default": "type"}, empty_ok=True),
        param(
            "type",
            schema={"type": "string", "pattern": TYPE_PATTERN},
            description="only this notification type",
            empty_ok=True,
        ),
        param(
            "channel",
            schema={"enum": list(CHANNELS)},
            description="only this channel",
            empty_ok=True,
        ),
    ),
    description=(
        "A message is an inbox row (channel in_app) or an external delivery (email, push, sms, "
        "chat); see docs/analytics.md for each count. `since` after `until` is 422."
    ),
)
operation(
    "get",
    "/api/v1/me/active-hours",
    "When the caller reads: a decayed 24-hour histogram in their time zone (30 days)",
    "analytics",
    responses={"200": ActiveHours},
    errors=AUTH,
)
