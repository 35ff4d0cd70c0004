"""Type subscriptions (CONTRACT §11): which notification types a stream sends.

A stream opened with ``?types=a,b`` (or a WebSocket ``subscribe`` op) writes only the
``notification`` events of those types; ``stats``, ``update``, ``reset`` and pings still flow
for everything, since the badge counts the whole inbox. A skipped notification still moves the
stream's cursor: the SSE renderers write a bare ``id:`` block for it (a browser updates
``lastEventId`` without dispatching an event), so a resume starts after it and ids stay
monotonic; a resume from an older cursor simply skips it again.
"""

from __future__ import annotations

from typing import Any

from notifier.bus.base import Message
from notifier.service.errors import ValidationError
from notifier.service.preferences import TYPE_RE
from notifier.stream.render import Renderer
from notifier.stream.wire import encode

MAX_TYPES = 50
# The query form, as the OpenAPI document states it: 1 to MAX_TYPES names, comma-separated.
_NAME = "[A-Za-z0-9_.:-]{1,64}"
TYPES_PATTERN = f"^{_NAME}(,{_NAME}){{0,{MAX_TYPES - 1}}}$"
Types = frozenset[str] | None  # None: every type


def parse_types(raw: Any, field: str = "types") -> Types:
    """Return the requested types from ``a,b`` or a list; None when absent or empty.

    Raises ValidationError (422) for anything that is not a list of valid type names.
    """
    if raw is None:
        return None
    if isinstance(raw, str):  # exactly TYPES_PATTERN: no blanks, no empty names
        items: list[Any] = raw.split(",") if raw else []
    elif isinstance(raw, list):
        items = raw
    else:
        raise ValidationError(f"{field} must be a list of types", fields={field: "list of types"})
    if len(items) > MAX_TYPES:
        raise ValidationError(f"at most {MAX_TYPES} types", fields={field: f"at most {MAX_TYPES}"})
    names = list(dict.fromkeys(items))
    for name in names:
        if not isinstance(name, str) or not TYPE_RE.fullmatch(name):
            raise ValidationError(
                f"{field} must be type names", fields={field: "letters, digits and _.:- only"}
            )
    return frozenset(names) if names else None


def wanted(message: Message, types: Types) -> bool:
    """Return True when ``message`` goes to a stream subscribed to ``types``."""
    if types is None or message.event != "notification":
        return True
    return isinstance(message.data, dict) and message.data.get("type") in types


def wanted_rows(rows: list[dict[str, Any]] | None, types: Types) -> list[dict[str, Any]] | None:
    """Filter the ``recent`` list of a fresh stream by ``types``."""
    if rows is None or types is None:
        return rows
    return [row for row in rows if row.get("type") in types]


def skipped(message: Message, renderer: Renderer) -> bytes:
    """Write what a skipped notification leaves: its cursor (SSE) and its stats."""
    hook = getattr(renderer, "skipped", None)
    if hook is not None:
        out: bytes = hook(message)
    else:  # a bare id: the browser's lastEventId moves on, no event is dispatched
        out = encode(id=message.cursor) if message.cursor else b""
    if message.stats is not None:
        out += renderer.stats(message.stats)
    return out


def filtered(messages: list[Message], types: Types, renderer: Renderer) -> bytes:
    """Encode replayed messages, leaving out the notifications ``types`` does not want."""
    if types is None:
        return renderer.many(messages)
    out: list[bytes] = []
    keep: list[Message] = []
    for message in messages:
        if wanted(message, types):
            keep.append(message)
            continue
        if keep:
            out.append(renderer.many(keep))
            keep = []
        out.append(skipped(message, renderer))
    if keep:
        out.append(renderer.many(keep))
    return b"".join(out)
