"""The stream on the fast lane (api/lane_stream.py) answers exactly as Flask's view does.

A query parameter the view ignores (``via``) sends the same request through Flask, so each
pair below opens the same stream both ways and compares what a client sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import current_app
from flask.testing import FlaskClient

from notifier.api import lane_stream
from notifier.extensions import state
from notifier.service import sessions
from tests.factories import World, make_world, send
from tests.sse_client import STREAM, Tab, logged, names

FLASK = "via=flask"  # an unknown parameter: the lane hands the request to Flask


@pytest.fixture
def world(app: Any) -> World:
    return make_world()


@pytest.fixture
def tabs() -> Iterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.close()


@pytest.fixture
def lane_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, per lane call, whether the lane answered it (True) or handed it over."""
    seen: list[bool] = []
    real = lane_stream.open_json_stream

    def spy(call: Any) -> Any:
        answer = real(call)
        seen.append(answer is not None)
        return answer

    lane = current_app.extensions["notifier.lane"]
    template, _ = lane.routes[("GET", STREAM)]
    monkeypatch.setitem(lane.routes, ("GET", STREAM), (template, spy))
    return seen


def stream_token(client: FlaskClient, headers: dict[str, str]) -> str:
    resp = client.post("/api/v1/stream-token", headers=headers)
    assert resp.status_code == 200
    return str(resp.get_json()["token"])


def open_tab(tabs: list[Tab], client: FlaskClient, path: str, **kw: Any) -> Tab:
    tab = Tab(client, path, **kw)
    tabs.append(tab)
    return tab


def headers_of(tab: Tab) -> list[tuple[str, str]]:
    return [(k, v) for k, v in tab.resp.headers.items() if k != "X-Request-ID"]


def test_lane_headers_and_first_events_are_the_views(
    client: FlaskClient, world: World, tabs: list[Tab], lane_calls: list[bool]
) -> None:
    send(world.alice, "one")
    token = stream_token(client, world.alice_h)
    for query in (f"?token={token}", ""):
        kw = {} if query else {"headers": world.alice_h}
        lane = open_tab(tabs, client, STREAM + query, **kw)
        flask = open_tab(tabs, client, STREAM + (query + "&" if query else "?") + FLASK, **kw)
        assert lane.status == flask.status == 200
        assert headers_of(lane) == headers_of(flask)
        a, b = lane.read(), flask.read()
        assert names(a) == names(b) == ["connected", "recent", "stats"]
        assert [e.id for e in a] == [e.id for e in b]
        assert a[1].json() == b[1].json() and a[2].json() == b[2].json()
    assert lane_calls == [True, False, True, False]


def test_resume_on_the_lane_loses_and_duplicates_nothing(
    client: FlaskClient, world: World, tabs: list[Tab], lane_calls: list[bool]
) -> None:
    first = open_tab(tabs, client, STREAM, headers=world.alice_h)
    start = int(first.read()[0].id)
    first.close()
    ids = [send(world.alice, f"n{i}") for i in range(3)]
    by_header = open_tab(
        tabs, client, STREAM, headers={**world.alice_h, "Last-Event-ID": str(start)}
    )
    by_query = open_tab(tabs, client, f"{STREAM}?after={start}", headers=world.alice_h)
    for tab in (by_header, by_query):
        evs = tab.read_until("stats")
        assert logged(evs) == [start + 1, start + 2, start + 3]
        assert [e.json()["id"] for e in evs if e.event == "notification"] == ids
    send(world.alice, "live")
    for tab in (by_header, by_query):
        assert logged(tab.read_until("notification")) == [start + 4]
    assert lane_calls == [True, True, True]


def test_types_filter_on_the_lane(
    client: FlaskClient, world: World, tabs: list[Tab], lane_calls: list[bool]
) -> None:
    tab = open_tab(tabs, client, f"{STREAM}?types=comment", headers=world.alice_h)
    start = int(tab.read()[0].id)
    send(world.alice, "skip", type="mention")
    send(world.alice, "keep")
    evs = tab.read_until("notification")
    kept = [e for e in evs if e.event == "notification"]
    assert [e.json()["title"] for e in kept] == ["keep"]
    assert int(kept[0].id) == start + 2
    assert lane_calls == [True]


def test_revoking_the_token_closes_a_lane_stream(
    client: FlaskClient, world: World, tabs: list[Tab], lane_calls: list[bool]
) -> None:
    tab = open_tab(tabs, client, f"{STREAM}?token={stream_token(client, world.alice_h)}")
    tab.read()
    assert state().hub.user_count(world.alice.id) == 1
    sessions.close_streams(world.alice, None)
    tab.read_until("never", timeout=10)
    assert tab.ended
    assert lane_calls == [True]


def test_closing_a_lane_stream_frees_its_subscription(
    client: FlaskClient, world: World, lane_calls: list[bool]
) -> None:
    tab = Tab(client, STREAM, headers=world.alice_h)
    tab.read()
    assert state().hub.user_count(world.alice.id) == 1
    tab.close()
    assert state().hub.user_count(world.alice.id) == 0
    assert lane_calls == [True]


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?token=nope", {}, 401),  # a bad stream token: Flask's 401
        ("", {"Authorization": "Bearer ntf_nope"}, 401),  # a bad API token
        ("", {"Authorization": "Basic eDp5"}, 401),  # another scheme
        ("", {}, 401),  # no credential
        ("?types=bad%20type", "alice", 422),  # bad types: the view's 422
        ("?after=%00", "alice", 422),  # NUL: the guard's 422
        ("?via=x", "alice", 200),  # a parameter the lane does not know
        ("?after=1&after=2", "alice", 200),  # a repeated one
    ],
)
def test_what_the_lane_hands_to_flask(
    client: FlaskClient,
    world: World,
    tabs: list[Tab],
    lane_calls: list[bool],
    query: str,
    headers: Any,
    status: int,
) -> None:
    sent = world.alice_h if headers == "alice" else headers
    tab = open_tab(tabs, client, STREAM + query, headers=sent)
    assert tab.status == status
    if status != 200:
        assert set(tab.resp.get_json()["error"]) >= {"code", "message"}
    assert lane_calls == [False]


def test_a_draining_hub_refuses_through_flask(
    client: FlaskClient, world: World, tabs: list[Tab], lane_calls: list[bool]
) -> None:
    state().hub.draining = True
    try:
        tab = open_tab(tabs, client, STREAM, headers=world.alice_h)
        assert tab.status == 503
        assert tab.resp.get_json()["error"]["code"] == "draining"
        assert tab.resp.headers["Retry-After"]
    finally:
        state().hub.draining = False
    assert lane_calls == [False]
