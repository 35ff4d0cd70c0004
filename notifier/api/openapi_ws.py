"""OpenAPI paths of CONTRACT §11's stream additions: ``?types=`` and the WebSocket route.

OpenAPI has no WebSocket vocabulary: the route is described as the GET that upgrades (101),
with its refusals; the messages are in the description and in README/CONTRACT §11.
"""

from __future__ import annotations

from typing import Any

from notifier.api.contract_stream import STREAM_PARAMS
from notifier.api.openapi_common import op, param
from notifier.stream.types import TYPES_PATTERN

TYPES = param(
    "types",
    schema={"type": "string", "pattern": TYPES_PATTERN},
    description="comma-separated notification types to send (stats and updates still flow)",
    empty_ok=True,
)
WS_DESCRIPTION = (
    'Switching Protocols: server messages {"event", "id"?, "data"} with the events of CONTRACT '
    '§6; client messages {"op": "resume", "after": N} (first, optional), {"op": "subscribe", '
    '"types": [...]}, {"op": "read", "ids": [...]}, {"op": "ping"}.'
)

UPGRADE_REQUIRED = {
    "description": "A plain GET, not a WebSocket handshake (upgrade_required).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

PATHS: dict[str, Any] = {
    "/api/v1/notifications/ws": {
        "get": op(
            "WebSocket stream for the caller (same auth, cursor and events as the SSE stream)",
            "stream",
            {"101": {"description": WS_DESCRIPTION}, "426": UPGRADE_REQUIRED},
            errors="401 403 422 429 503",
            params=(*STREAM_PARAMS, TYPES),
            security=[{"bearer": []}, {"session": []}, {"streamToken": []}],
        ),
    },
}


def with_types(paths: dict[str, Any]) -> dict[str, Any]:
    """Add the ``types`` parameter to the SSE stream's GET in ``paths`` (returns ``paths``)."""
    get = paths["/api/v1/notifications/stream"]["get"]
    if not any(p.get("name") == "types" for p in get.get("parameters", [])):
        get.setdefault("parameters", []).append(TYPES)
    return paths


def extend(doc: dict[str, Any]) -> dict[str, Any]:
    """Add ``types`` to the SSE stream operation the contract models generate; return ``doc``."""
    with_types(doc["paths"])
    return doc
