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
from notifier.bus.base import Message
from notifier.stream.wire import encode
from notifier.web.fragments import Fragments

Pairs = list[tuple[str, str]]
EXTENSION = "notifier.html_renderer"  # the English one
LOCALIZED = "notifier.html_renderers"  # every page language's, English included


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

    def stats(self, stats: dict[str, int]) -> bytes:
        """Render the stats fragments."""
        return self._encode(self.fragments.render_stats(stats))

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
