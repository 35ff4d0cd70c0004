"""OpenAPI paths and schemas of the stream: the SSE route, its status and connection counts."""

from __future__ import annotations

from typing import Any

from notifier.api.openapi_common import INTEGER, STRING, json_response, obj, op, param

SCHEMAS: dict[str, Any] = {
    "StreamStatus": obj(
        {
            "mode": {"enum": ["redis", "memory"]},
            "redis_available": {"type": "boolean"},
            "active_connections": INTEGER,
            "active_subscriptions": INTEGER,
            "instance": STRING,
        },
        ("mode", "redis_available", "active_connections", "active_subscriptions", "instance"),
    ),
    "StreamConnections": obj(
        {
            "total": INTEGER,
            "mine": INTEGER,
            "by_user": {"type": "object", "additionalProperties": INTEGER},
            "instance": STRING,
        },
        ("total", "mine", "by_user"),
    ),
}

# A cursor that cannot be used (not a number, too new, too old) still opens the stream, which
# then sends `reset` (CONTRACT §6): any string is accepted.
CURSOR = "resume after this cursor (a decimal integer); an unusable one opens with `reset`"
STREAM_PARAMS = (
    param("token", description="a stream token, for EventSource (a bearer header wins)"),
    param("after", description=CURSOR),
    param("last_event_id", description=CURSOR),
    param("Last-Event-ID", "header", STRING, CURSOR + "; wins over the query parameters"),
)
# Open API 3.1 reads a text/event-stream schema as the schema of each event.
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

PATHS: dict[str, Any] = {
    "/api/v1/notifications/stream": {
        "get": op(
            "Server-sent events for the caller",
            "stream",
            {"200": SSE},
            errors="401 422 429 503",
            params=STREAM_PARAMS,
            security=[{"bearer": []}, {"session": []}, {"streamToken": []}],
        ),
    },
    "/api/v1/notifications/stream/status": {
        "get": op("Describe the bus and streams", "stream", {"200": json_response("StreamStatus")}),
    },
    "/api/v1/notifications/stream/connections": {
        "get": op(
            "Count open streams (admins: everyone's; members: their own)",
            "stream",
            {"200": json_response("StreamConnections")},
        ),
    },
}
