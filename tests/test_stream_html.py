"""The HTML stream (GET /stream): same cursor rules, fragments rendered once per message.

A tiny fake fragment source in the app's HTML renderer pins the interface (render_message,
render_stats, render_reset) and counts renders; one test runs the real fragments end to end.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from notifier.bus.base import Message
from notifier.stream import render
from notifier.web.renderer import EXTENSION
from tests.factories import World, send
from tests.sse_client import Tab, logged, names

URL = "/stream"


@pytest.fixture
def fake_fragments(
    monkeypatch: pytest.MonkeyPatch, client: FlaskClient
) -> Iterator[dict[str, int]]:
    """Give the app's HTML renderer a fake fragment source; yield its render counters."""
    calls = {"message": 0, "stats": 0, "reset": 0}
    fake = types.SimpleNamespace()

    def render_message(message: Message) -> list[tuple[str, str]]:
        calls["message"] += 1
        title = message.data.get("title", message.data.get("action"))
        return [("notification", f"<li>{title}</li>\n<li>second line</li>"), ("toast", "t")]

    def render_stats(stats: dict[str, int]) -> list[tuple[str, str]]:
        calls["stats"] += 1
        return [("stats", f"<b>{stats['unread']}</b>")]

    def render_reset(reason: str) -> list[tuple[str, str]]:
        calls["reset"] += 1
        return [("reset", f"<p>{reason}</p>")]

    fake.render_message = render_message  # type: ignore[attr-defined]
    fake.render_stats = render_stats  # type: ignore[attr-defined]
    fake.render_reset = render_reset  # type: ignore[attr-defined]
    renderer = client.application.extensions[EXTENSION]
    monkeypatch.setattr(renderer, "fragments", fake)
    render.CACHE.clear()  # bytes cached from another test's module must not leak in
    yield calls
    render.CACHE.clear()


def login(client: FlaskClient, auth: Any, email: str = "alice@example.com") -> None:
    assert auth.login(email).status_code == 302


def test_anonymous_visitors_are_sent_to_login(client: FlaskClient, world: World) -> None:
    resp = client.get(URL)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_fragments_carry_the_cursor_and_render_once_for_every_tab(
    client: FlaskClient, world: World, auth: Any, fake_fragments: dict[str, int]
) -> None:
    login(client, auth)
    tabs = [Tab(client, URL) for _ in range(3)]
    try:
        for tab in tabs:
            assert tab.resp.headers["Content-Type"] == "text/event-stream"
            first = tab.read()
            assert names(first) == ["connected", "stats"]  # no `recent`: the page has its list
        # Once per unread count and process (3 before the third pass): the badge shows
        # that count alone, so three tabs at connect share one render.
        assert fake_fragments["stats"] == 1
        send(world.alice, "hello")
        raw = []
        for tab in tabs:
            before = len(tab.events)
            evs = tab.read()
            raw.append([(e.event, e.data, e.id) for e in tab.events[before:]])
            assert names(evs) == ["notification", "toast", "stats"]
        expected = [
            ("notification", "<li>hello</li>\n<li>second line</li>", "1"),
            ("toast", "t", "1"),  # id persists client-side; the wire carries it once
            ("stats", "<b>1</b>", "1"),
        ]
        assert raw == [expected] * 3
        assert fake_fragments["message"] == 1  # one render for three tabs
        assert fake_fragments["stats"] == 2  # the message's new count, also rendered once
    finally:
        for tab in tabs:
            tab.close()


def test_exact_bytes_of_one_html_message(
    client: FlaskClient, world: World, auth: Any, fake_fragments: dict[str, int]
) -> None:
    login(client, auth)
    tab = Tab(client, URL)
    try:
        tab.read()
        chunks = tab._chunks
        send(world.alice, "x")
        assert next(chunks) == (
            b"id: 1\nevent: notification\ndata: <li>x</li>\ndata: <li>second line</li>\n\n"
            b"event: toast\ndata: t\n\n"
            b"event: stats\ndata: <b>1</b>\n\n"
        )
    finally:
        tab.close()


def test_resume_with_after_replays_fragments_and_reset_for_garbage(
    client: FlaskClient, world: World, auth: Any, fake_fragments: dict[str, int]
) -> None:
    for i in range(4):
        send(world.alice, f"n{i}")
    login(client, auth)
    tab = Tab(client, URL, query_string={"after": "2"})
    try:
        evs = tab.read_until("stats")
        assert logged(evs) == [3, 4]
        assert [e.data.split("\n")[0] for e in evs if e.event == "notification"] == [
            "<li>n2</li>",
            "<li>n3</li>",
        ]
    finally:
        tab.close()
    tab = Tab(client, URL, query_string={"after": "nope"})
    try:
        evs = tab.read()
        assert names(evs) == ["connected", "reset", "stats"]
        assert evs[1].data == "<p>invalid_cursor</p>"
    finally:
        tab.close()


def test_real_fragments_module_renders_the_stream(
    client: FlaskClient, world: World, auth: Any
) -> None:
    render.CACHE.clear()
    login(client, auth)
    tab = Tab(client, URL)
    try:
        assert names(tab.read()) == ["connected", "stats"]
        nid = send(world.alice, "Real <fragment>")
        evs = tab.read()
        assert names(evs)[0] == "notification" and evs[0].id == "1"
        assert "Real &lt;fragment&gt;" in evs[0].data
        from notifier.service import inbox

        inbox.mark(world.alice, nid, read=True)
        evs = tab.read()
        assert evs[0].event == "update" and evs[0].id == "2"
    finally:
        tab.close()
        render.CACHE.clear()


def test_replayed_update_renders_the_rows_loaded_with_its_page(
    client: FlaskClient, world: World, auth: Any
) -> None:
    from notifier.service import inbox

    render.CACHE.clear()
    nid = send(world.alice, "Replayed")
    inbox.mark(world.alice, nid, read=True)
    login(client, auth)
    tab = Tab(client, URL, query_string={"after": "1"})
    try:
        evs = tab.read_until("stats")
        [update] = [e for e in evs if e.event == "update"]
        assert update.id == "2"
        assert f'<li id="n-{nid}" class="item is-read is-seen prio-normal"' in update.data
        assert "Replayed" in update.data
    finally:
        tab.close()
        render.CACHE.clear()
