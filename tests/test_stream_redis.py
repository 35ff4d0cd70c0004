"""Streams across processes: two `python app.py` servers sharing one Redis and one database.

Both servers use the same SQLite file (WAL) and a private redis-server on a unix socket
(tests/fixtures_redis.py), which one test kills and restarts under connected clients.
Counts of sent/received/duplicate events are printed (run with -s to see them).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fixtures_live import LiveServer, http_json
from tests.fixtures_redis import RedisServer
from tests.sse_client import SSEClient, bearer, publish, report, token_for

ALICE, BOB = "alice@example.com", "bob@example.com"
Factory = Callable[..., LiveServer]


def pair(factory: Factory, redis_url: str) -> tuple[LiveServer, LiveServer]:
    """Start two servers on one database and one Redis."""
    first = factory({"REDIS_URL": redis_url}, seed=True)
    second = factory({"REDIS_URL": redis_url}, init=False)
    return first, second


def opened(*clients: SSEClient) -> None:
    for client in clients:
        assert client.status == 200 and client.wait_event("stats", timeout=15) is not None


def test_a_notification_reaches_all_tabs_on_both_processes_and_no_one_else(
    live_server_factory: Factory, redis_url: str
) -> None:
    a, b = pair(live_server_factory, redis_url)
    admin, alice, bob = (token_for(a, e) for e in ("admin@example.com", ALICE, BOB))
    tabs = [SSEClient(s.url, headers=bearer(alice)) for s in (a, a, b, b)]
    bobs = [SSEClient(s.url, headers=bearer(bob)) for s in (a, b)]
    try:
        opened(*tabs, *bobs)
        status, body = http_json(
            "GET", a.url + "/api/v1/notifications/stream/status", headers=bearer(alice)
        )
        # A member counts only their own streams on this process (bob's one is not hers).
        assert (body["mode"], body["redis_available"], body["active_connections"]) == (
            "redis",
            True,
            2,
        )
        sent = 40
        for i in range(sent):  # published through both processes, alternately
            assert publish((a, b)[i % 2].url, admin, ALICE, f"n{i}") == 201
        for i, tab in enumerate(tabs):
            assert tab.wait_logged(sent, timeout=30)
            report(f"tab {i} on {'ab'[i // 2]}", sent, tab)
            assert tab.logged_ids == list(range(5, 5 + sent)) and tab.duplicates == 0
        # Bob's streams got none of it: the next thing they see is his own notification.
        assert publish(b.url, admin, BOB, "for bob") == 201
        for tab in bobs:
            assert tab.wait_logged(1, timeout=30)
            assert [e.json()["title"] for e in tab.named("notification")] == ["for bob"]
            assert tab.logged_ids == [3]
    finally:
        for tab in tabs + bobs:
            tab.close()


def test_resume_on_the_other_process_is_exact(live_server_factory: Factory, redis_url: str) -> None:
    a, b = pair(live_server_factory, redis_url)
    admin, alice = token_for(a, "admin@example.com"), token_for(a, ALICE)
    client = SSEClient(a.url, headers=bearer(alice))
    try:
        opened(client)
        assert publish(a.url, admin, ALICE, "first") == 201
        assert client.wait_logged(1)
        client.close()
        sent = 150
        assert [publish(a.url, admin, ALICE, f"away {i}") for i in range(sent)] == [201] * sent
        client.port = b.port  # the proxy sends the reconnect to the other process
        client.reconnect()
        assert client.wait_logged(sent + 1, timeout=60)
        report("resume on the other process", sent + 1, client)
        assert client.logged_ids == list(range(5, 6 + sent)) and client.duplicates == 0
    finally:
        client.close()


def test_redis_killed_under_connected_clients_loses_nothing(
    live_server_factory: Factory, redis_server: RedisServer, redis_url: str
) -> None:
    a, b = pair(live_server_factory, redis_url)
    admin, alice = token_for(a, "admin@example.com"), token_for(a, ALICE)
    tabs = [SSEClient(a.url, headers=bearer(alice)), SSEClient(b.url, headers=bearer(alice))]
    try:
        opened(*tabs)
        for i in range(10):
            assert publish(a.url, admin, ALICE, f"before {i}") == 201
        assert all(tab.wait_logged(10, timeout=30) for tab in tabs)
        redis_server.kill()
        # Accepted and committed while the bus is down, through both processes.
        statuses = [publish((a, b)[i % 2].url, admin, ALICE, f"during {i}") for i in range(100)]
        assert statuses == [201] * 100
        # Both processes stay in rotation: a shared outage is reported, not a reason to drain.
        for server in (a, b):
            status, body = http_json("GET", server.url + "/readyz")
            assert status == 200 and body["status"] == "degraded", body
            assert body["checks"]["redis"] == "unavailable"
        redis_server.start()  # same socket: each listener re-subscribes, then streams replay
        # Nothing else is published until they have it all: the reconnect alone recovers it.
        assert all(tab.wait_logged(110, timeout=120) for tab in tabs)
        for i in range(10):
            assert publish(b.url, admin, ALICE, f"after {i}") == 201
        for name, tab in zip("ab", tabs, strict=True):
            assert tab.wait_logged(120, timeout=60)
            report(f"redis outage, tab on {name}", 120, tab)
            assert tab.logged_ids == list(range(5, 125))
            assert tab.duplicates == 0 and tab.backwards == 0
            assert tab.connections == 1  # the streams stayed open through the outage
    finally:
        for tab in tabs:
            tab.close()
