"""The page stream's renderer: web/fragments.py's (event, html) pairs as SSE bytes.

It implements :class:`notifier.stream.render.Renderer`; the page stream view hands the
app's one instance to ``open_stream``. Nothing here needs a request, an app context or a
query: :class:`~notifier.web.fragments.Fragments` builds URLs from a bound MapAdapter and
the message carries the rows it shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from flask import Flask, current_app

from notifier import i18n
from notifier.bus.base import Fanout, Message
from notifier.stream.wire import dumps, encode
from notifier.web.fragments import BELL_COUNTS, Fragments

Pairs = list[tuple[str, str]]
EXTENSION = "notifier.html_renderer"  # the English one
LOCALIZED = "notifier.html_renderers"  # every page language's, English included
#: A fan-out's fragments are rendered once with this id, then each recipient's id replaces it
#: (item ids, element ids and URLs all carry it as plain digits).
PLACEHOLDER = "907195348261"
PLACEHOLDER_BYTES = PLACEHOLDER.encode()
BADGES = 1000  # distinct unread counts whose badge bytes are remembered


class FragmentSource(Protocol):
    """What the renderer needs from :class:`~notifier.web.fragments.Fragments`."""

    def render_message(self, message: Message) -> Pairs:
        """Return the fragments of one message (the first carries the message's cursor)."""
        ...

    def render_stats(self, stats: dict[str, int]) -> Pairs:
        """Return the badge fragments."""
        ...

    def render_reset(self, reason: str) -> Pairs:
        """Return the fragments that make the page reload its list."""
        ...


class HtmlRenderer:
    """Render events as HTML fragments, one SSE event per (event, html) pair."""

    kind = "html"
    needs_rows = True

    def __init__(self, fragments: FragmentSource, locale: str = "en") -> None:
        self.fragments = fragments
        # One cache entry per message and page language (the hub still sees kind "html").
        self.cache_key = self.kind if locale == "en" else f"{self.kind}:{locale}"
        self._badges: dict[int, bytes] = {}  # unread count → the stats fragments' bytes
        self._badge_source: FragmentSource = fragments

    def _encode(self, pairs: Iterable[tuple[str, str]], cursor: int = 0) -> bytes:
        out = []
        for event, html in pairs:
            out.append(encode(html, event=event, id=cursor or None))
            cursor = 0  # only the first event of a message carries the cursor
        return b"".join(out)

    def message(self, message: Message) -> bytes:
        """Render one bus message's fragments, then the stats fragments when it has stats."""
        out = self._encode(self.fragments.render_message(message), message.cursor)
        if message.stats is not None:
            out += self.stats(message.stats)
        return out

    def many(self, messages: list[Message]) -> bytes:
        """Render replayed messages."""
        return b"".join(self.message(m) for m in messages)

    def shared(self, fanout: Fanout) -> bytes | None:
        """Render a fan-out's fragments once, with a placeholder where each user's id goes.

        None (render per user) when the placeholder's digits occur in the content itself.
        """
        if PLACEHOLDER in dumps(fanout.data):
            return None
        probe = fanout.message((0, 0, int(PLACEHOLDER), 0, 0, 0, 0))
        return self._encode(self.fragments.render_message(probe))

    def splice(self, message: Message, template: bytes) -> bytes:
        """Return one recipient's fragments: the shared render with its id, cursor and badge."""
        # The first event carries the cursor: "id:" leads it, as _encode() writes it.
        out = f"id: {message.cursor}\n".encode() if template else b""
        out += template.replace(PLACEHOLDER_BYTES, str(message.data["id"]).encode())
        if message.stats is not None:
            out += self.stats(message.stats)
        return out

    def stats(self, stats: dict[str, int]) -> bytes:
        """Render the stats fragments (the badge shows one count: remembered per count)."""
        unread = stats.get(BELL_COUNTS)
        if not isinstance(unread, int) or len(stats) != 5:
            return self._encode(self.fragments.render_stats(stats))
        if self._badge_source is not self.fragments:  # another source renders otherwise
            self._badges.clear()
            self._badge_source = self.fragments
        hit = self._badges.get(unread)
        if hit is None:
            if len(self._badges) >= BADGES:
                self._badges.clear()
            hit = self._badges[unread] = self._encode(self.fragments.render_stats(stats))
        return hit

    def reset(self, reason: str) -> bytes:
        """Render the reset fragments (the page reloads its list)."""
        return self._encode(self.fragments.render_reset(reason))

    def recent(self, notifications: list[dict[str, Any]]) -> bytes:
        """Send nothing: the page rendered its list itself."""
        return b""


def init_app(app: Flask) -> None:
    """Build the app's HTML renderers, one per page language (URL adapters bound once)."""
    english = HtmlRenderer(Fragments(app))
    app.extensions[EXTENSION] = english
    app.extensions[LOCALIZED] = {
        locale: english if locale == "en" else HtmlRenderer(Fragments(app, locale), locale)
        for locale in i18n.LOCALES
    }


def html_renderer(locale: str = "en") -> HtmlRenderer:
    """Return the current app's HTML renderer for ``locale`` (English when unsupported)."""
    if i18n.supported(locale) == "en":
        renderer: HtmlRenderer = current_app.extensions[EXTENSION]
        return renderer
    renderers: dict[str, HtmlRenderer] = current_app.extensions[LOCALIZED]
    return renderers[i18n.supported(locale)]
