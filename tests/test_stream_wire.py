"""The SSE wire format on exact strings, and the once-per-process encoding cache."""

from __future__ import annotations

import pytest

from notifier.bus.base import Message
from notifier.stream import render, wire
from notifier.stream.wire import EncodedCache, encode, json_event, retry_hint
from notifier.web.renderer import HtmlRenderer
from tests.sse_client import SSEParser


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"data": "hello"}, b"data: hello\n\n"),
        ({"data": "x", "event": "ping"}, b"event: ping\ndata: x\n\n"),
        (
            {"data": "x", "event": "notification", "id": 42},
            b"id: 42\nevent: notification\ndata: x\n\n",
        ),
        (
            {"data": "a\nb\r\nc\rd", "event": "frag"},
            b"event: frag\ndata: a\ndata: b\ndata: c\ndata: d\n\n",
        ),
        ({"data": "", "event": "e"}, b"event: e\ndata: \n\n"),
        ({"data": "trailing\n"}, b"data: trailing\ndata: \n\n"),
        ({"retry": 2500}, b"retry: 2500\n\n"),
        (
            {"data": "x", "id": 7, "event": "update", "retry": 1000},
            b"id: 7\nevent: update\nretry: 1000\ndata: x\n\n",
        ),
        (
            {"data": "x", "event": "bad\r\nname\0", "id": "1\n2\r3\0"},
            b"id: 123\nevent: badname\ndata: x\n\n",
        ),
        ({"data": "caf\u00e9 \u2028 ok"}, "data: caf\u00e9 \u2028 ok\n\n".encode()),
    ],
)
def test_encode_exact_bytes(kwargs: dict[str, object], expected: bytes) -> None:
    """Each field on its own line, one data line per payload line, junk stripped from names."""
    assert encode(**kwargs) == expected  # type: ignore[arg-type]


def test_json_event_is_one_compact_data_line() -> None:
    """JSON escapes newlines, so a payload with them is still a single data line."""
    out = json_event("notification", {"title": "a\nb", "n": 1}, id=9)
    assert out == b'id: 9\nevent: notification\ndata: {"title":"a\\nb","n":1}\n\n'


def test_retry_hint_is_jittered_within_bounds() -> None:
    """The reconnect delay spreads clients over base..base+jitter ms."""
    values = set()
    for _ in range(200):
        block = retry_hint()
        assert block.startswith(b"retry: ") and block.endswith(b"\n\n")
        value = int(block[len(b"retry: ") : -2])
        assert wire.RETRY_BASE_MS <= value <= wire.RETRY_BASE_MS + wire.RETRY_JITTER_MS
        values.add(value)
    assert len(values) > 20


def test_encoded_bytes_parse_back_with_a_spec_parser() -> None:
    """What encode() writes is what an EventSource-like parser reads back."""
    parser = SSEParser()
    events = parser.feed(encode("line1\nline2", event="frag", id=5) + retry_hint())
    events += parser.feed(encode("x", event="notification", id=6))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("frag", "line1\nline2", "5"),
        ("notification", "x", "6"),
    ]
    assert parser.retry is not None


def test_cache_encodes_each_message_once_per_kind() -> None:
    """Five tabs of one user cost one encoding: the hub hands them the same Message object."""
    cache = EncodedCache(size=4)
    calls: list[int] = []

    def build(m: Message) -> bytes:
        calls.append(m.cursor)
        return f"{m.cursor}".encode()

    one = Message(1, 1, 1, "notification", {"a": 1})
    for _ in range(5):
        assert cache.get(one, "json", build) == b"1"
    assert calls == [1]
    cache.get(one, "html", build)
    assert calls == [1, 1]
    # An equal but distinct object is another message: never served stale bytes.
    twin = Message(1, 1, 1, "notification", {"a": 1}, published_at=one.published_at)
    cache.get(twin, "json", build)
    assert calls == [1, 1, 1]


def test_cache_is_bounded() -> None:
    """Old entries are evicted, oldest first."""
    cache = EncodedCache(size=3)
    messages = [Message(1, 1, i, "notification", {}) for i in range(1, 6)]
    for m in messages:
        cache.get(m, "json", lambda m: b"x")
    assert len(cache._entries) == 3
    cache.get(messages[0], "json", lambda m: b"y")  # evicted, so rebuilt
    assert cache.misses == 6


def test_json_renderer_appends_stats_and_ping_is_shared_across_kinds() -> None:
    """A live message carries the user's stats right after it; ping is JSON for both kinds."""
    r = render.JsonRenderer()
    m = Message(
        3,
        1,
        12,
        "update",
        {"action": "read", "ids": [5]},
        stats={"total": 2, "unread": 1, "read": 1},
    )
    assert r.message(m) == (
        b'id: 12\nevent: update\ndata: {"action":"read","ids":[5]}\n\n'
        b'event: stats\ndata: {"total":2,"unread":1,"read":1}\n\n'
    )
    ping = Message(0, 0, 0, "ping", {"timestamp": "2026-01-01T00:00:00Z"})
    render.CACHE.clear()
    before = render.CACHE.misses
    html = HtmlRenderer(fragments=None)  # type: ignore[arg-type] - ping never renders HTML
    assert render.encoded(ping, html) == render.encoded(ping, r)
    assert (
        render.encoded(ping, html) == b'event: ping\ndata: {"timestamp":"2026-01-01T00:00:00Z"}\n\n'
    )
    assert render.CACHE.misses == before + 1
