"""Render stream content for the two stream kinds: JSON for integrators, HTML for the pages.

A renderer turns a bus message, a stats dict, a reset reason or the recent list into SSE
bytes. Bus messages go through :func:`encoded`, which renders each message once per process
and kind (see :class:`~notifier.stream.wire.EncodedCache`); the rest is per connection and
happens only at connect or after a replay.

The HTML renderer calls the browser engineer's ``notifier.web.fragments`` module:

* ``render_message(message) -> list[(event, html)]``: the fragments of one notification or
  update (the first pair carries the message's cursor as ``id:``);
* ``render_stats(stats) -> list[(event, html)]`` (badge, counters);
* ``render_reset(reason) -> list[(event, html)]``.

Fragments render inside a bare request context for the app root: no user, no session, so
they must not use ``current_user`` or ``csrf_token()`` (every tab of the user, and every
user's message, shares the same bytes).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from flask import Flask

from notifier.bus.base import Message
from notifier.stream.wire import EncodedCache, encode, json_event

CACHE = EncodedCache()
FRAGMENTS = "notifier.web.fragments"


class JsonRenderer:
    """Render events as CONTRACT §6 describes: JSON data, ``id:`` on logged events."""

    kind = "json"

    def message(self, message: Message) -> bytes:
        """Encode one bus message, followed by the user's stats when the message has them."""
        out = json_event(message.event, message.data, id=message.cursor or None)
        if message.stats is not None:
            out += self.stats(message.stats)
        return out

    def many(self, messages: list[Message]) -> bytes:
        """Encode replayed messages (not cached: they belong to one connection)."""
        return b"".join(self.message(m) for m in messages)

    def stats(self, stats: dict[str, int]) -> bytes:
        """Encode a ``stats`` event."""
        return json_event("stats", stats)

    def reset(self, reason: str) -> bytes:
        """Encode a ``reset`` event."""
        return json_event("reset", {"reason": reason})

    def recent(self, notifications: list[dict[str, Any]]) -> bytes:
        """Encode the ``recent`` event of a connection that came without a cursor."""
        return json_event("recent", {"notifications": notifications})


class HtmlRenderer:
    """Render events as HTML fragments from ``notifier.web.fragments`` (module docstring)."""

    kind = "html"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _fragments(self) -> ModuleType:
        # Looked up per render (a sys.modules hit): the module may be swapped in tests.
        return importlib.import_module(FRAGMENTS)

    def _encode(self, pairs: Iterable[tuple[str, str]], cursor: int = 0) -> bytes:
        out = []
        for event, html in pairs:
            out.append(encode(html, event=event, id=cursor or None))
            cursor = 0  # only the first event of a message carries the cursor
        return b"".join(out)

    def _render(self, fragments: ModuleType, message: Message) -> bytes:
        out = self._encode(fragments.render_message(message), message.cursor)
        if message.stats is not None:
            out += self._encode(fragments.render_stats(message.stats))
        return out

    def message(self, message: Message) -> bytes:
        """Render one bus message's fragments, then the stats fragments when it has stats."""
        with self.app.test_request_context("/"):
            return self._render(self._fragments(), message)

    def many(self, messages: list[Message]) -> bytes:
        """Render replayed messages inside one request context."""
        with self.app.test_request_context("/"):
            fragments = self._fragments()
            return b"".join(self._render(fragments, m) for m in messages)

    def stats(self, stats: dict[str, int]) -> bytes:
        """Render the stats fragments."""
        with self.app.test_request_context("/"):
            return self._encode(self._fragments().render_stats(stats))

    def reset(self, reason: str) -> bytes:
        """Render the reset fragments (the page reloads its list)."""
        with self.app.test_request_context("/"):
            return self._encode(self._fragments().render_reset(reason))

    def recent(self, notifications: list[dict[str, Any]]) -> bytes:
        """Send nothing: the page rendered its list itself."""
        return b""


Renderer = JsonRenderer | HtmlRenderer
_JSON = JsonRenderer()


def encoded(message: Message, renderer: Renderer) -> bytes:
    """Return the bytes of ``message`` for ``renderer``, rendered once per process.

    ``ping`` is JSON in both kinds, so one ping costs one encoding per process.
    """
    if message.cursor == 0 and message.event == "ping":
        return CACHE.get(message, "json", _JSON.message)
    return CACHE.get(message, renderer.kind, renderer.message)
