"""The WebSocket renderer: the events of CONTRACT §6 as ``{"event", "id"?, "data"}`` lines.

It implements :class:`notifier.stream.render.Renderer` for the same stream session the SSE
streams use (subscribe → replay → live, with the same cursors and order): each event becomes
one JSON document followed by a newline, and the WebSocket transport (api/ws.py) sends every
line as one text message. JSON never contains a raw newline, so the split is exact. The
transport closes the socket itself, so the reconnect hint is empty, and a notification skipped
by a type subscription leaves nothing (a WebSocket client keeps its own cursor).
"""

from __future__ import annotations

from typing import Any

from notifier.bus.base import Message
from notifier.stream.render import JsonRenderer
from notifier.stream.wire import dumps


def frame(event: str, data: Any, id: int | None = None) -> bytes:
    """Encode one server message as a line."""
    doc: dict[str, Any] = {"event": event}
    if id:
        doc["id"] = id
    doc["data"] = data
    return (dumps(doc) + "\n").encode("utf-8")


class WsRenderer(JsonRenderer):
    """Render events as newline-terminated JSON messages (the JSON renderer's events)."""

    kind = "ws"

    @staticmethod
    def encode(event: str, data: Any, id: int | None = None) -> bytes:
        """Encode one event as a WebSocket line."""
        return frame(event, data, id)

    def connected(self, data: dict[str, Any], cursor: int) -> bytes:
        """Encode the ``connected`` message (it carries the starting cursor as its id)."""
        doc = {"event": "connected", "id": cursor, "data": data}
        return (dumps(doc) + "\n").encode("utf-8")

    def retry(self) -> bytes:
        """Send nothing: the transport closes the socket with a code instead."""
        return b""

    def skipped(self, message: Message) -> bytes:
        """Send nothing for a notification the client did not subscribe to."""
        return b""


WS = WsRenderer()
