"""Server-sent event streams: the JSON stream for integrators and the HTML stream for the pages.

* ``wire``: the one SSE encode function, the retry hint, the per-process byte cache;
* ``render``: the Renderer protocol the opening view passes in, the JSON renderer, the cache;
* ``connect``: subscribe, then read where the stream starts (from Flask or the fast lane);
* ``session``: preamble → replay → live, with the cursor rules of CONTRACT §6;
* ``conn``: the TCP side: closed and stuck clients leave promptly;
* ``drain``: a restarting process refuses new streams and closes its keep-alive connections.
"""

from __future__ import annotations

from notifier.stream.conn import reap
from notifier.stream.connect import open_stream
from notifier.stream.opening import Opening, parse_cursor
from notifier.stream.session import Stream
from notifier.stream.wire import encode, retry_hint

__all__ = ["Opening", "Stream", "encode", "open_stream", "parse_cursor", "reap", "retry_hint"]
