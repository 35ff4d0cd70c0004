"""Own the SSE wire format: one encode function, the retry hint, and the per-process byte cache.

Every byte a stream writes is built by :func:`encode` (flask-sse's ``Message.__str__`` idea):
``id:``, ``event:``, ``retry:``, then one ``data:`` line per line of payload, then a blank
line. Event names and ids lose ``\\r``, ``\\n`` and ``\\0`` (a newline would end the field
early and split the event; the spec makes a browser ignore an id containing NUL).

:class:`EncodedCache` keeps the bytes of recently seen bus messages: the hub hands the SAME
``Message`` object to every subscription of a user in this process, so a user with five tabs
costs one JSON dump (or one template render) per event, not five.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from notifier.bus.base import Fanout, Message
from notifier.timefmt import iso_now

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the only line terminators SSE knows
FIELD_JUNK = str.maketrans("", "", "\r\n\0")

# Reconnect delay sent in `retry:`: a base plus jitter, so the clients of a restarted server
# spread their reconnects over a few seconds instead of arriving in one burst.
RETRY_BASE_MS = 2000
RETRY_JITTER_MS = 3000


def encode(
    data: str | None = None,
    *,
    event: str | None = None,
    id: int | str | None = None,
    retry: int | None = None,
) -> bytes:
    """Encode one SSE event (or a bare ``retry:`` block) as UTF-8 bytes."""
    parts: list[str] = []
    if id is not None:
        parts.append(f"id: {str(id).translate(FIELD_JUNK)}\n")
    if event is not None:
        parts.append(f"event: {event.translate(FIELD_JUNK)}\n")
    if retry is not None:
        parts.append(f"retry: {int(retry)}\n")
    if data is not None:
        parts.extend(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def dumps(data: Any) -> str:
    """Serialize a payload compactly; JSON never contains a raw newline, so it is one line."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_event(event: str, data: Any, *, id: int | None = None) -> bytes:
    """Encode an event whose data is JSON."""
    return encode(dumps(data), event=event, id=id)


def retry_ms() -> int:
    """Return a jittered reconnect delay in milliseconds."""
    return RETRY_BASE_MS + random.randint(0, RETRY_JITTER_MS)


def retry_after_s() -> int:
    """Return a jittered ``Retry-After`` in whole seconds, in the same range as ``retry:``."""
    return -(-retry_ms() // 1000)


def retry_hint() -> bytes:
    """Return a bare ``retry:`` block (no event is dispatched for it)."""
    return encode(retry=retry_ms())


def timestamp() -> str:
    """Return the current time as ISO 8601 UTC with a Z suffix, as the API writes times."""
    return iso_now()


class EncodedCache:
    """Remember the encoded bytes of the last ``size`` messages, per stream kind.

    Keyed by ``id(message)``; each entry holds the message itself, so the id cannot be
    reused by another object while the entry lives, and the identity check makes a hit
    exact. Eviction is oldest-first (dicts keep insertion order), which suits a stream of
    messages that are each read by a handful of subscriptions within milliseconds.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._entries: dict[tuple[int, str], tuple[Message, bytes]] = {}
        self.misses = 0

    def get(self, message: Message, kind: str, build: Callable[[Message], bytes]) -> bytes:
        """Return the cached bytes of ``message`` for ``kind``, building them on a miss."""
        key = (id(message), kind)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is message:
            return entry[1]
        self.misses += 1
        data = build(message)
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (message, data)
        return data

    def clear(self) -> None:
        """Forget every entry (tests)."""
        self._entries.clear()


class SharedCache:
    """Remember, per tenant fan-out and renderer, the encoding of the part all recipients share.

    Keyed by the fan-out's ``key``, not its identity: on the cluster bus each recipient's
    channel carries its own copy of the fan-out, and the process still encodes the shared
    part once. Oldest-first eviction, as :class:`EncodedCache`.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: dict[tuple[str, str], Any] = {}
        self.misses = 0
        # The last hit by identity: a broadcast's recipients ask for the same one in a row.
        self._last: tuple[Fanout | None, str, Any] = (None, "", None)

    def get(self, fanout: Fanout, kind: str, build: Callable[[Fanout], Any]) -> Any:
        """Return the cached template of ``fanout`` for ``kind``, building it on a miss."""
        last, last_kind, value = self._last
        if last is fanout and last_kind == kind:
            return value
        key = (fanout.key, kind)
        if key in self._entries:
            value = self._entries[key]
        else:
            self.misses += 1
            value = build(fanout)
            if len(self._entries) >= self.size:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = value
        self._last = (fanout, kind, value)
        return value

    def clear(self) -> None:
        """Forget every entry (tests)."""
        self._entries.clear()
        self._last = (None, "", None)
