"""The contract of the stream: the SSE route, its status and connection counts."""

from __future__ import annotations

from typing import Literal

from notifier.api.contract import Reply, operation
from notifier.api.openapi_common import STRING, obj, param
from notifier.stream.types import TYPES_PATTERN


class StreamStatus(Reply):
    mode: Literal["redis", "memory"]
    redis_available: bool
    active_connections: int
    active_subscriptions: int
    instance: str


class StreamConnections(Reply):
    total: int
    mine: int
    by_user: dict[str, int]
    instance: str = None  # type: ignore[assignment]


# A cursor that cannot be used (not a number, too new, too old) still opens the stream, which
# then sends `reset` (CONTRACT §6): any string is accepted.
CURSOR = "resume after this cursor (a decimal integer); an unusable one opens with `reset`"
STREAM_PARAMS = (
    param("token", description="a stream token, for EventSource (a bearer header wins)"),
    param("after", description=CURSOR),
    param("last_event_id", description=CURSOR),
    param("Last-Event-ID", "header", STRING, CURSOR + "; wins over the query parameters"),
    param(
        "types",
        schema={"type": "string", "pattern": TYPES_PATTERN},
        description="comma-separated notification types to send (stats and updates still flow)",
        empty_ok=True,
    ),
)
# Open API 3.1 reads a text/event-stream schema as the schema of each event (not a JSON body,
# so no model: nothing validates it).
SSE_EVENT = obj(
    {
        "event": {
            "enum": ["connected", "recent", "stats", "notification", "update", "reset", "ping"]
        },
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the event cursor"},
    },
    ("event", "data"),
)
SSE = {
    "description": "text/event-stream: connected, recent, stats, notification, update, reset, "
    "ping (CONTRACT §6).",
    "content": {"text/event-stream": {"schema": SSE_EVENT}},
}

operation(
    "get",
    "/api/v1/notifications/stream",
    "Server-sent events for the caller",
    "stream",
    responses={"200": SSE},
    errors="401 422 429 503",
    params=STREAM_PARAMS,
    security=[{"bearer": []}, {"session": []}, {"streamToken": []}],
)
operation(
    "get",
    "/api/v1/notifications/stream/status",
    "Describe the bus and streams",
    "stream",
    responses={"200": StreamStatus},
)
operation(
    "get",
    "/api/v1/notifications/stream/connections",
    "Count open streams (admins: everyone's; members: their own)",
    "stream",
    responses={"200": StreamConnections},
)
