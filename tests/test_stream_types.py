"""Type subscriptions on both SSE streams (CONTRACT §11): ``?types=a,b``.

Only notifications of the listed types are written; stats and updates still flow for all of
them, and a skipped notification still moves the stream's cursor (a bare ``id:``), so a
resume neither repeats nor loses anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from notifier.service import inbox
from tests.factories import World, send
from tests.sse_client import Tab, logged, names

URL = "/api/v1/notifications/stream"


@pytest.fixture
def tabs() -> Iterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.close()


def open_tab(tabs: list[Tab], client: FlaskClient, path: str = URL, **kw: Any) -> Tab:
    tab = Tab(client, path, **kw)
    tabs.append(tab)
    return tab


def titles(evs: list[Any]) -> list[str]:
    return [e.json()["title"] for e in evs if e.event == "notification"]


def test_only_listed_types_are_sent_while_stats_and_updates_still_flow(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    send(world.alice, "old mention", type="mention")
    send(world.alice, "old comment")  # type comment
    tab = open_tab(tabs, client, headers=world.alice_h, query_string={"types": "mention,billing"})
    first = tab.read()
    assert names(first) == ["connected", "recent", "stats"]
    # The recent list is filtered too; the counts are the whole inbox's.
    assert [n["title"] for n in first[1].json()["notifications"]] == ["old mention"]
    assert first[2].json() == {"total": 2, "unread": 2, "read": 0, "unseen": 2, "archived": 0}
    comment = send(world.alice, "a comment")  # cursor 3: not wanted
    evs = tab.read()
    assert names(evs) == ["stats"]  # the badge still moves
    assert evs[0].json()["total"] == 3
    assert tab.parser.last_event_id == "3"  # ... and so does the resume point
    send(world.alice, "a bill", type="billing")
    evs = tab.read()
    assert names(evs) == ["notification", "stats"] and evs[0].id == "4"
    assert titles(evs) == ["a bill"]
    inbox.mark(world.alice, comment, read=True)  # an update about a skipped type: still sent
    evs = tab.read()
    assert names(evs) == ["update", "stats"] and evs[0].id == "5"


def test_resume_with_types_replays_only_those_and_keeps_ids_monotonic(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    for i in range(6):
        send(world.alice, f"n{i}", type="mention" if i % 2 else "comment")
    tab = open_tab(
        tabs,
        client,
        headers={**world.alice_h, "Last-Event-ID": "1"},
        query_string={"types": "mention"},
    )
    evs = tab.read_until("stats")
    assert titles(evs) == ["n1", "n3", "n5"]
    assert logged(evs) == [2, 4, 6]
    assert tab.parser.last_event_id == "6"
    send(world.alice, "live comment")  # 7, skipped
    send(world.alice, "live mention", type="mention")  # 8
    got: list[Any] = []
    while "live mention" not in titles(got):
        got += tab.read()
    assert titles(got) == ["live mention"] and logged(got) == [8]
    ids = [int(e.id) for e in evs + got if e.id]
    assert ids == sorted(ids)


def test_the_page_stream_filters_too(
    client: FlaskClient, auth: Any, world: World, tabs: list[Tab]
) -> None:
    assert auth.login("alice@example.com").status_code == 302
    tab = open_tab(tabs, client, "/stream", query_string={"types": "mention"})
    assert tab.status == 200
    tab.read()
    send(world.alice, "comment here")
    evs = tab.read()
    assert "notification" not in names(evs) and "stats" in names(evs)
    assert tab.parser.last_event_id == "1"
    send(world.alice, "mention here", type="mention")
    evs = tab.read()
    assert any("mention here" in e.data for e in evs) and logged(evs) == [2]


@pytest.mark.parametrize(
    "types", ["bad type", "a,b c", ",".join(f"t{i}" for i in range(51)), "x" * 65]
)
def test_bad_types_are_422_with_the_json_error_body(
    client: FlaskClient, auth: Any, world: World, types: str
) -> None:
    resp = client.get(URL, headers=world.alice_h, query_string={"types": types})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "validation_error"
    assert "types" in resp.get_json()["error"]["fields"]
    assert auth.login("alice@example.com").status_code == 302
    resp = client.get("/stream", query_string={"types": types})
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"]["types"]
    from notifier.extensions import state

    assert state(client.application).hub.subscriptions() == []  # nothing half-opened
