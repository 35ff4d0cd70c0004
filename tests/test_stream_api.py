"""The JSON stream in-process: headers, first events, resume, gaps, resets, limits, auth.

These drive the real view and generator through Flask's test client (no server): each read
pulls the next chunk the generator yields. Reads are bounded by a gevent.Timeout, so a
missing event fails the test instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import update

from notifier.bus.base import Message
from notifier.extensions import db, state
from notifier.models import EventCursor
from notifier.service import events, inbox
from tests.conftest import make_app
from tests.factories import World, make_world, send
from tests.sse_client import Tab, logged, names

URL = "/api/v1/notifications/stream"


@pytest.fixture
def tabs() -> Iterator[list[Tab]]:
    """Close every Tab a test opens, so subscriptions never outlive it."""
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.close()


def open_tab(tabs: list[Tab], client: FlaskClient, path: str = URL, **kw: Any) -> Tab:
    tab = Tab(client, path, **kw)
    tabs.append(tab)
    return tab


def test_fresh_connection_gets_headers_then_connected_recent_stats(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    for i in range(12):
        send(world.alice, f"n{i}")
    tab = open_tab(tabs, client, headers=world.alice_h)
    assert tab.status == 200
    assert tab.resp.headers["Content-Type"] == "text/event-stream"
    assert tab.resp.headers["Cache-Control"] == "no-cache"
    assert tab.resp.headers["X-Accel-Buffering"] == "no"
    first = tab.read()
    assert names(first) == ["connected", "recent", "stats"]
    assert tab.parser.retry is not None and tab.parser.retry >= 2000
    hello = first[0].json()
    assert set(hello) == {"client_id", "user_id", "cursor", "timestamp"}
    assert hello["user_id"] == world.alice.id and hello["cursor"] == 12
    assert first[0].id == "12"  # a drop before any event still resumes exactly
    recent = first[1].json()["notifications"]
    assert [n["title"] for n in recent] == [f"n{i}" for i in range(11, 1, -1)]
    assert first[2].json() == {"total": 12, "unread": 12, "read": 0, "unseen": 12, "archived": 0}


def test_live_events_reach_every_tab_of_the_user_and_no_one_else(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    alice1 = open_tab(tabs, client, headers=world.alice_h)
    alice2 = open_tab(tabs, client, headers=world.alice_h)
    bob = open_tab(tabs, client, headers=world.bob_h)
    for tab in (alice1, alice2, bob):
        tab.read()
    nid = send(world.alice, "for alice")
    for tab in (alice1, alice2):
        evs = tab.read()
        assert names(evs) == ["notification", "stats"]
        assert evs[0].id == "1" and evs[0].json()["id"] == nid
        assert evs[0].json()["title"] == "for alice"
        assert evs[1].json() == {"total": 1, "unread": 1, "read": 0, "unseen": 1, "archived": 0}
    inbox.mark(world.alice, nid, read=True)
    evs = alice1.read()
    assert names(evs) == ["update", "stats"] and evs[0].id == "2"
    assert evs[0].json() == {"action": "read", "ids": [nid]}
    assert evs[1].json() == {"total": 1, "unread": 0, "read": 1, "unseen": 0, "archived": 0}
    bob_sub = next(s for s in state().hub.subscriptions() if s.user_id == world.bob.id)
    assert bob_sub.queue.qsize() == 0


@pytest.mark.parametrize(
    ("kw", "start"),
    [
        ({"headers": {"Last-Event-ID": "2"}}, 2),
        ({"query_string": {"last_event_id": "3"}}, 3),
        ({"query_string": {"after": "1"}}, 1),
        ({"headers": {"Last-Event-ID": "4"}, "query_string": {"after": "1"}}, 4),  # header wins
        ({"query_string": {"last_event_id": "3", "after": "1"}}, 3),
    ],
)
def test_resume_replays_exactly_the_events_after_the_cursor(
    client: FlaskClient, world: World, tabs: list[Tab], kw: dict[str, Any], start: int
) -> None:
    for i in range(5):
        send(world.alice, f"n{i}")
    headers = {**world.alice_h, **kw.pop("headers", {})}
    tab = open_tab(tabs, client, headers=headers, **kw)
    evs = tab.read_until("stats")
    assert names(evs)[0] == "connected" and "recent" not in names(evs)
    assert evs[0].json()["cursor"] == start
    assert logged(evs) == list(range(start + 1, 6))
    assert names(evs)[-1] == "stats"
    # Going live after the replay: the next event follows on, written once.
    send(world.alice, "live")
    assert logged(tab.read()) == [6]


def test_a_live_message_already_replayed_is_not_written_twice(
    app: Flask, client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    send(world.alice, "one")
    tab = open_tab(tabs, client, headers={**world.alice_h, "Last-Event-ID": "0"})
    state().broker.publish = lambda messages: True  # type: ignore[method-assign] - lose it
    send(world.alice, "two")  # committed (cursor 2), never delivered live
    evs = tab.read_until("stats")
    assert logged(evs) == [1, 2]
    late = Message(world.alice.id, world.alice.tenant_id, 2, "notification", {"late": True})
    state().hub.deliver([late])
    marker = Message(world.alice.id, world.alice.tenant_id, 0, "notice", {"n": 1})
    state().hub.deliver([marker])  # un-logged (cursor 0): a marker to read up to
    evs = tab.read()
    assert names(evs) == ["notice"]  # cursor 2 was skipped


def test_a_cursor_gap_is_replayed_from_the_log_in_order(
    app: Flask, client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    tab = open_tab(tabs, client, headers=world.alice_h)
    tab.read()
    broker = state().broker
    real = broker.publish
    broker.publish = lambda messages: True  # type: ignore[method-assign] - the bus loses 1 and 2
    send(world.alice, "lost 1")
    send(world.alice, "lost 2")
    broker.publish = real  # type: ignore[method-assign]
    send(world.alice, "arrives")
    evs = tab.read_until("stats")  # the replay covers the live message too
    assert logged(evs) == [1, 2, 3]
    assert [e.json()["title"] for e in evs if e.event == "notification"] == [
        "lost 1",
        "lost 2",
        "arrives",
    ]


def test_needs_replay_after_a_bus_reconnect_catches_up(
    app: Flask, client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    tab = open_tab(tabs, client, headers=world.alice_h)
    tab.read()
    state().broker.publish = lambda messages: True  # type: ignore[method-assign]
    for i in range(3):
        send(world.alice, f"during outage {i}")
    state().hub.request_replay_all()  # what the Redis broker does after re-subscribing
    evs = tab.read_until("stats")
    assert logged(evs) == [1, 2, 3]
    assert evs[-1].json() == {"total": 3, "unread": 3, "read": 0, "unseen": 3, "archived": 0}


@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("abc", "invalid_cursor"),
        ("-1", "invalid_cursor"),
        ("1e3", "invalid_cursor"),
        ("99", "unknown_cursor"),
        ("1", "cursor_expired"),
    ],
)
def test_unusable_cursor_opens_the_stream_with_reset(
    client: FlaskClient, world: World, tabs: list[Tab], cursor: str, reason: str
) -> None:
    for i in range(4):
        send(world.alice, f"n{i}")
    db.session.execute(
        update(EventCursor).where(EventCursor.user_id == world.alice.id).values(pruned_through=2)
    )
    db.session.commit()
    tab = open_tab(tabs, client, headers={**world.alice_h, "Last-Event-ID": cursor})
    assert tab.status == 200
    evs = tab.read()
    assert names(evs) == ["connected", "reset", "stats"]
    assert evs[1].json() == {"reason": reason}
    assert evs[0].json()["cursor"] == 4 and evs[0].id == "4"  # continues from the current one
    send(world.alice, "next")
    assert logged(tab.read()) == [5]


def test_cursor_at_the_retention_edge_is_still_usable(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    for i in range(4):
        send(world.alice, f"n{i}")
    db.session.execute(
        update(EventCursor).where(EventCursor.user_id == world.alice.id).values(pruned_through=2)
    )
    db.session.commit()
    tab = open_tab(tabs, client, headers={**world.alice_h, "Last-Event-ID": "2"})
    assert logged(tab.read_until("stats")) == [3, 4]


def test_closing_the_response_frees_the_subscription(client: FlaskClient, world: World) -> None:
    hub = state().hub
    tab = Tab(client, headers=world.alice_h)
    tab.read()
    assert hub.by_user().get(world.alice.id, 0) == 1
    tab.close()
    assert hub.by_user().get(world.alice.id, 0) == 0 and hub.total_count() == 0


def test_unstarted_response_still_frees_its_slot(client: FlaskClient, world: World) -> None:
    tab = Tab(client, headers=world.alice_h)  # the client vanished before the first byte
    tab.close()
    assert state().hub.total_count() == 0


def test_auth_by_header_session_cookie_and_stream_token(
    client: FlaskClient, world: World, auth: Any, tabs: list[Tab]
) -> None:
    resp = client.get(URL)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    resp = client.get(URL, query_string={"token": "forged"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"
    token = client.post("/api/v1/stream-token", headers=world.bob_h).get_json()["token"]
    tab = open_tab(tabs, client, query_string={"token": token})
    assert tab.read()[0].json()["user_id"] == world.bob.id
    auth.login("alice@example.com")
    tab = open_tab(tabs, client)
    assert tab.read()[0].json()["user_id"] == world.alice.id


def test_stream_token_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(f"sqlite:///{tmp_path / 't.sqlite'}", NOTIFIER_STREAM_TOKEN_TTL=1)
    with app.app_context():
        world = make_world()
        client = app.test_client()
        token = client.post("/api/v1/stream-token", headers=world.alice_h).get_json()["token"]
        tab = Tab(client, query_string={"token": token})
        assert tab.status == 200
        tab.close()
        # Past the TTL without waiting for it: the signer's clock moves on 5 s.
        now = TimestampSigner.get_timestamp
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now(self) + 5)
        resp = client.get(URL, query_string={"token": token})
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"
        db.engine.dispose()


def test_per_user_limit_is_429_and_process_cap_is_503(tmp_path: Path) -> None:
    app = make_app(
        f"sqlite:///{tmp_path / 'l.sqlite'}",
        NOTIFIER_MAX_CONNECTIONS_PER_USER=2,
        NOTIFIER_MAX_CONNECTIONS=3,
        NOTIFIER_PING_INTERVAL=5,
    )
    with app.app_context():
        world = make_world()
        client = app.test_client()
        opened = [Tab(client, headers=world.alice_h) for _ in range(2)]
        resp = client.get(URL, headers=world.alice_h)
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "6"
        assert resp.get_json()["error"]["code"] == "too_many_connections"
        opened.append(Tab(client, headers=world.bob_h))
        resp = client.get(URL, headers=world.admin_h)
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "6"
        assert resp.get_json()["error"]["code"] == "server_busy"
        opened.pop(0).close()
        again = Tab(client, headers=world.alice_h)
        assert again.status == 200
        for tab in [*opened, again]:
            tab.close()
        db.engine.dispose()


def test_overflow_ends_the_stream_with_a_retry_hint_and_resume_catches_up(
    tmp_path: Path,
) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'o.sqlite'}", NOTIFIER_QUEUE_SIZE=3)
    with app.app_context():
        world = make_world()
        client = app.test_client()
        slow = Tab(client, headers=world.alice_h)
        slow.read()
        for i in range(6):  # the slow tab reads nothing meanwhile
            send(world.alice, f"n{i}")
        assert state().hub.total_count() == 0  # dropped at once, others never waited
        slow.parser.retry = None
        while not slow.ended:
            slow.read()
        assert slow.parser.retry is not None  # ended with a fresh retry hint
        seen = logged(slow.events)
        slow.close()
        # EventSource reconnects with the last id it saw (the connected event's, here).
        resume_from = slow.parser.last_event_id
        assert resume_from == "0"
        again = Tab(client, headers={**world.alice_h, "Last-Event-ID": resume_from})
        evs = again.read_until("stats")
        assert seen + logged(evs) == [1, 2, 3, 4, 5, 6]
        again.close()
        db.engine.dispose()


def test_shutdown_ends_streams_with_a_retry_hint(client: FlaskClient, world: World) -> None:
    tab = Tab(client, headers=world.alice_h)
    tab.read()
    tab.parser.retry = None
    state().hub.close_all("shutdown")
    tab.read()
    assert tab.parser.retry is not None  # the farewell carries a fresh retry hint
    tab.read()
    assert tab.ended
    tab.close()


def test_status_and_connections(client: FlaskClient, world: World, tabs: list[Tab]) -> None:
    for headers in (world.alice_h, world.alice_h, world.bob_h, world.carol_h):
        open_tab(tabs, client, headers=headers).read()
    status = client.get(URL + "/status", headers=world.bob_h).get_json()
    # A member counts their own streams and is not told the process name (test_stream_scope).
    assert status == {
        "mode": "memory",
        "redis_available": False,
        "active_connections": 1,
        "active_subscriptions": 1,
        "instance": "",
    }
    member = client.get(URL + "/connections", headers=world.alice_h).get_json()
    assert (member["total"], member["mine"], member["by_user"]) == (2, 2, {str(world.alice.id): 2})
    admin = client.get(URL + "/connections", headers=world.admin_h).get_json()
    # acme's admin sees acme's users only; carol (globex) is not counted.
    assert admin["by_user"] == {str(world.alice.id): 2, str(world.bob.id): 1}
    assert (admin["total"], admin["mine"]) == (3, 0)
    assert client.get(URL + "/status").status_code == 401


def test_event_log_is_the_only_query_source_for_live_events(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    """Live events cost no query per connection: stats ride on the message."""
    from sqlalchemy import event as sa_event

    a = open_tab(tabs, client, headers=world.alice_h)
    b = open_tab(tabs, client, headers=world.alice_h)
    a.read()
    b.read()
    messages = events.append(
        [(world.alice.id, world.alice.tenant_id, "notification", {"id": 1, "title": "x"})]
    )
    db.session.commit()
    queries: list[str] = []

    def count(*args: Any) -> None:
        queries.append(str(args[2]))

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        events.publish(messages)
        for tab in (a, b):
            assert names(tab.read()) == ["notification", "stats"]
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
    assert queries == []
