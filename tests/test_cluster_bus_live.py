"""Two `python app.py` servers on a real 3-primary Redis Cluster (sharded pub/sub, issue 13.7).

Both servers share one SQLite database and the loopback cluster of
tests/fixtures_redis_cluster.py. One test restarts, under connected clients, the primary that
serves alice's channel: what was published meanwhile reaches every tab exactly once, from
the event log, once the shard connection is back. Counts are printed (run with -s).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures_live import LiveServer, http_json
from tests.fixtures_redis_cluster import ClusterNode, RedisClusterServers, wait_for
from tests.sse_client import SSEClient, bearer, publish, report, token_for

pytestmark = pytest.mark.redis

ALICE, BOB = "alice@example.com", "bob@example.com"
ALICE_ID = 2  # seed-demo creates admin, alice, bob in that order
FIRST = 5  # alice's demo notifications hold cursors 1-4
Factory = Callable[..., LiveServer]


def pair(factory: Factory, url: str) -> tuple[LiveServer, LiveServer]:
    """Start two servers on one database and one Redis Cluster."""
    first = factory({"REDIS_URL": url}, seed=True)
    second = factory({"REDIS_URL": url}, init=False)
    return first, second


def subscribers(node: ClusterNode, channel: str) -> int:
    """Return how many connections hold a sharded subscription to ``channel`` on ``node``."""
    with node.client() as client:
        return int(dict(client.pubsub_shardnumsub(channel)).get(channel.encode(), 0))


def opened(*clients: SSEClient) -> None:
    for client in clients:
        assert client.status == 200 and client.wait_event("stats", timeout=15) is not None


def test_fan_out_across_two_processes_over_sharded_pub_sub(
    live_server_factory: Factory, redis_cluster: RedisClusterServers, redis_cluster_url: str
) -> None:
    a, b = pair(live_server_factory, redis_cluster_url)
    admin, alice, bob = (token_for(a, e) for e in ("admin@example.com", ALICE, BOB))
    tabs = [SSEClient(s.url, headers=bearer(alice)) for s in (a, a, b, b)]
    bobs = [SSEClient(s.url, headers=bearer(bob)) for s in (a, b)]
    try:
        opened(*tabs, *bobs)
        for server in (a, b):
            _, body = http_json(
                "GET", server.url + "/api/v1/notifications/stream/status", headers=bearer(alice)
            )
            assert (body["mode"], body["redis_available"]) == ("redis", True)
        # Each process holds one sharded subscription per local user, on that user's primary.
        for user_id in (ALICE_ID, ALICE_ID + 1):
            channel = f"notifier:u:{user_id}"
            assert subscribers(redis_cluster.node_for(channel), channel) == 2
        sent = 40
        for i in range(sent):  # published through both processes, alternately
            assert publish((a, b)[i % 2].url, admin, ALICE, f"n{i}") == 201
        for i, tab in enumerate(tabs):
            assert tab.wait_logged(sent, timeout=30)
            report(f"cluster, tab {i} on {'ab'[i // 2]}", sent, tab)
            assert tab.logged_ids == list(range(FIRST, FIRST + sent)) and tab.duplicates == 0
        assert publish(b.url, admin, BOB, "for bob") == 201
        for tab in bobs:
            assert tab.wait_logged(1, timeout=30)
            assert [e.json()["title"] for e in tab.named("notification")] == ["for bob"]
    finally:
        for tab in tabs + bobs:
            tab.close()


def test_a_primary_restarted_under_connected_clients_loses_nothing(
    live_server_factory: Factory, redis_cluster: RedisClusterServers, redis_cluster_url: str
) -> None:
    a, b = pair(live_server_factory, redis_cluster_url)
    admin, alice = token_for(a, "admin@example.com"), token_for(a, ALICE)
    tabs = [SSEClient(a.url, headers=bearer(alice)), SSEClient(b.url, headers=bearer(alice))]
    node = redis_cluster.node_for(f"notifier:u:{ALICE_ID}")
    try:
        opened(*tabs)
        for i in range(10):
            assert publish(a.url, admin, ALICE, f"before {i}") == 201
        assert all(tab.wait_logged(10, timeout=30) for tab in tabs)
        node.kill()
        # Committed while alice's shard is down, through both processes: 201 every time.
        statuses = [publish((a, b)[i % 2].url, admin, ALICE, f"during {i}") for i in range(50)]
        assert statuses == [201] * 50
        node.start()  # same port, same nodes.conf: it owns the same slots again
        redis_cluster.wait_ok()
        # Both processes re-subscribe alice's channel on the restarted primary by themselves.
        channel = f"notifier:u:{ALICE_ID}"
        wait_for(lambda: subscribers(node, channel) == 2, "both processes to re-subscribe")
        # Nothing else is published until the tabs have it all: the re-subscription alone
        # (its acknowledgement asks the streams to replay) recovers the gap.
        assert all(tab.wait_logged(60, timeout=120) for tab in tabs)
        for i in range(10):
            assert publish(b.url, admin, ALICE, f"after {i}") == 201
        for name, tab in zip("ab", tabs, strict=True):
            assert tab.wait_logged(70, timeout=60)
            report(f"cluster node restart, tab on {name}", 70, tab)
            assert tab.logged_ids == list(range(FIRST, FIRST + 70))
            assert tab.duplicates == 0 and tab.backwards == 0
            assert tab.connections == 1  # the streams stayed open through the restart
    finally:
        for tab in tabs:
            tab.close()
