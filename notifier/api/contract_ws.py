"""The contract of the WebSocket stream (CONTRACT §11): the GET that upgrades, and its refusals.

OpenAPI has no WebSocket vocabulary: the route is described as the GET that upgrades (101),
with its refusals; the messages are in the description and in README/CONTRACT §11. The
client's messages travel over the socket, not as HTTP bodies: ``ws_ops`` reads them.
"""

from __future__ import annotations

from notifier.api.contract import Error, operation
from notifier.api.contract_stream import STREAM_PARAMS

WS_DESCRIPTION = (
    'Switching Protocols: server messages {"event", "id"?, "data"} with the events of CONTRACT '
    '§6; client messages {"op": "resume", "after": N} (first, optional), {"op": "subscribe", '
    '"types": [...]}, {"op": "read", "ids": [...]}, {"op": "ping"}.'
)

operation(
    "get",
    "/api/v1/notifications/ws",
    "WebSocket stream for the caller (same auth, cursor and events as the SSE stream)",
    "stream",
    responses={
        "101": {"description": WS_DESCRIPTION},
        "426": (Error, "A plain GET, not a WebSocket handshake (upgrade_required)."),
    },
    errors="401 403 422 429 503",
    params=STREAM_PARAMS,
    security=[{"bearer": []}, {"session": []}, {"streamToken": []}],
)
