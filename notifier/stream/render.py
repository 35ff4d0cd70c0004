"""How a stream turns events into bytes: the Renderer protocol, the JSON renderer, the cache.

A renderer turns a bus message, a stats dict, a reset reason or the recent list into SSE
bytes. The view that opens a stream hands it one (``open_stream(user, credential,
renderer)``): the API's JSON stream passes :class:`JsonRenderer`, the page stream the web
layer's HTML renderer (``notifier/web/renderer.py``), so this package never imports the
layers above it. Bus messages go through :func:`encoded`, which renders each message once
per process and kind (see :class:`~notifier.stream.wire.EncodedCache`); the rest is per
connection and happens only at connect or after a replay.

A renderer is called outside any request or app context and must not query the database:
the message carries what it shows (``data``, ``stats`` and, for an ``update`` when the
renderer sets ``needs_rows``, the changed ``rows``).
"""

from __future__ import annotations

from typing import Any, Protocol

from notifier.bus.base import Message
from notifier.stream.wire import EncodedCache, json_event

CACHE = EncodedCache()
SSE_KINDS = ("json", "html")  # kinds written as SSE; others (the WebSocket) frame their own


class Renderer(Protocol):
    """What a stream needs to write its events (one instance may serve every connection)."""

    #: The hub's connection label ("json", "html"), and the cache key unless the renderer
    #: has a ``cache_key`` (the HTML renderer of each page language has its own).
    kind: str
    #: True when update messages must carry their rows (replays then load them per page).
    needs_rows: bool

    def message(self, message: Message) -> bytes:
        """Encode one bus message, followed by its stats when it has them."""
        ...

    def many(self, messages: list[Message]) -> bytes:
        """Encode replayed messages."""
        ...

    def stats(self, stats: dict[str, int]) -> bytes:
        """Encode the user's counts."""
        ...

    def reset(self, reason: str) -> bytes:
        """Encode a reset: the client's cursor was unusable."""
        ...

    def recent(self, notifications: list[dict[str, Any]]) -> bytes:
        """Encode the recent unread list of a connection that came without a cursor."""
        ...


class JsonRenderer:
    """Render events as CONTRACT §6 describes: JSON data, ``id:`` on logged events.

    ``encode(event, data, id)`` makes one event's bytes; the WebSocket renderer
    (stream/ws_render.py) is this class with its own encoder, so both name events alike.
    """

    kind = "json"
    needs_rows = False

    @staticmethod
    def encode(event: str, data: Any, id: int | None = None) -> bytes:
        """Encode one event as an SSE frame."""
        return json_event(event, data, id=id)

    def message(self, message: Message) -> bytes:
        """Encode one bus message, followed by the user's stats when the message has them."""
        out = self.encode(message.event, message.data, message.cursor or None)
        if message.stats is not None:
            out += self.stats(message.stats)
        return out

    def many(self, messages: list[Message]) -> bytes:
        """Encode replayed messages (not cached: they belong to one connection)."""
        return b"".join(self.message(m) for m in messages)

    def stats(self, stats: dict[str, int]) -> bytes:
        """Encode a ``stats`` event."""
        return self.encode("stats", stats)

    def reset(self, reason: str) -> bytes:
        """Encode a ``reset`` event."""
        return self.encode("reset", {"reason": reason})

    def recent(self, notifications: list[dict[str, Any]]) -> bytes:
        """Encode the ``recent`` event of a connection that came without a cursor."""
        return self.encode("recent", {"notifications": notifications})


JSON = JsonRenderer()


def encoded(message: Message, renderer: Renderer) -> bytes:
    """Return the bytes of ``message`` for ``renderer``, rendered once per process.

    ``ping`` is JSON in both SSE kinds, so one ping costs one encoding per process.
    """
    if message.cursor == 0 and message.event == "ping" and renderer.kind in SSE_KINDS:
        return CACHE.get(message, "json", JSON.message)
    return CACHE.get(message, getattr(renderer, "cache_key", renderer.kind), renderer.message)
