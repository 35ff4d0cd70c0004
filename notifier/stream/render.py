"""How a stream turns events into bytes: the Renderer protocol, the JSON renderer, the cache.

A renderer turns a bus message, a stats dict, a reset reason or the recent list into SSE
bytes. The view that opens a stream hands it one (``open_stream(user, credential,
renderer)``): the API's JSON stream passes :class:`JsonRenderer`, the page stream the web
layer's HTML renderer (``notifier/web/renderer.py``), so this package never imports the
layers above it. Bus messages go through :func:`encoded`, which renders each message once
per process and kind (see :class:`~notifier.stream.wire.EncodedCache`); a message cut from
a tenant fan-out (a :class:`~notifier.bus.cut.Cut`) is spliced from the fan-out's shared
part, encoded once per process and kind (:class:`Splicer`,
:class:`~notifier.stream.wire.SharedCache`), with its own id, cursor and counts, and keeps
its bytes itself. The rest is per connection and happens only at connect or after a replay.

A renderer is called outside any request or app context and must not query the database:
the message carries what it shows (``data``, ``stats`` and, for an ``update`` when the
renderer sets ``needs_rows``, the changed ``rows``).
"""

from __future__ import annotations

from typing import Any, Protocol

from notifier.bus.base import Fanout, Message
from notifier.bus.cut import Cut
from notifier.stream.wire import FIELD_JUNK, EncodedCache, SharedCache, dumps, json_event

CACHE = EncodedCache()
#: Per fan-out and renderer: the shared part's encoding (one per process, not per user).
SHARED = SharedCache()
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


class Splicer(Protocol):
    """What a renderer adds to encode a fan-out's shared part once per process.

    ``shared(fanout)`` returns the renderer's template of the shared part (None: render
    each user's message whole); ``splice(message, template)`` returns one recipient's bytes,
    equal to what ``message(message)`` would have made.
    """

    def shared(self, fanout: Fanout) -> Any:
        """Encode what every recipient of ``fanout`` shares, or None."""
        ...

    def splice(self, message: Message, template: Any) -> bytes:
        """Return ``message``'s bytes from the shared template and its own id and cursor."""
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

    def shared(self, fanout: Fanout) -> tuple[str, str] | None:
        """Return the fan-out's event text around the per-user notification id."""
        if self.encode is not JsonRenderer.encode or "id" in fanout.data:
            return None  # a subclass frames its own events; an id would be the per-user one
        rest = dumps(fanout.data)
        event = fanout.event.translate(FIELD_JUNK)
        # notification_payload puts "id" first: '{"id":N,' + the rest is dumps() of it.
        return f'event: {event}\ndata: {{"id":', ("," + rest[1:]) if len(rest) > 2 else "}"

    def splice(self, message: Message, template: tuple[str, str]) -> bytes:
        """Return a fan-out recipient's event and stats (``message()``'s bytes, spliced).

        Both events in one chunk, so one socket write per recipient (CONTRACT §6: the stats
        follow every change). A :class:`Cut` gives its entry's numbers directly: its payload
        and stats dicts are then never built.
        """
        head, tail = template
        if type(message) is Cut:
            _, cursor, nid, total, unread, unseen, archived = message.entry
            read = total - unread
        else:
            s = message.stats or {}
            cursor, nid = message.cursor, message.data["id"]
            total, unread, read = s["total"], s["unread"], s["read"]
            unseen, archived = s["unseen"], s["archived"]
        return (
            f"id: {cursor}\n{head}{nid}{tail}\n\n"
            f'event: stats\ndata: {{"total":{total},"unread":{unread},'
            f'"read":{read},"unseen":{unseen},"archived":{archived}}}\n\n'
        ).encode()

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

    ``ping`` is JSON in both SSE kinds, so one ping costs one encoding per process. A
    :class:`Cut` keeps its own bytes (a user's other tabs reuse them) instead of taking a
    slot in the process cache, which would keep a broadcast's thousands of cuts alive.
    """
    if type(message) is Cut:
        return _cut(message, renderer)
    if message.cursor == 0 and message.event == "ping" and renderer.kind in SSE_KINDS:
        return CACHE.get(message, "json", JSON.message)
    key = getattr(renderer, "cache_key", renderer.kind)
    part = message.part
    if part is not None and hasattr(renderer, "splice"):
        splicer: Splicer = renderer  # type: ignore[assignment]
        template = SHARED.get(part, key, splicer.shared)
        if template is not None:
            return CACHE.get(message, key, lambda m: splicer.splice(m, template))
    return CACHE.get(message, key, renderer.message)


def _cut(cut: Cut, renderer: Renderer) -> bytes:
    """Return one fan-out recipient's bytes: spliced into the shared template, kept on the cut."""
    if cut.encoder is renderer:  # another tab of the same user, same renderer
        return cut.encoded
    key = getattr(renderer, "cache_key", renderer.kind)
    out = None
    if hasattr(renderer, "splice"):
        splicer: Splicer = renderer  # type: ignore[assignment]
        template = SHARED.get(cut.part, key, splicer.shared)
        if template is not None:
            out = splicer.splice(cut, template)
    if out is None:
        out = renderer.message(cut)
    cut.encoder, cut.encoded = renderer, out
    return out
