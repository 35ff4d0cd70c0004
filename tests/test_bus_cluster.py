"""The Redis Cluster bus in-process: selection, seeds, slot migration, CLI publishes (issue 13.7).

The cluster is real (tests/fixtures_redis_cluster.py); the test process is gevent-patched
(conftest.py) and waits cooperatively, so the shard readers run (as in test_bus_contract.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from notifier.bus import Hub, MemoryBroker, Message, RedisBroker, make_broker
from notifier.bus.cluster import ClusterBroker
from notifier.bus.cluster_slots import Node, parse_cluster_url, slot_of
from notifier.config import redis_cluster
from notifier.limits import storage_uri
from tests.fixtures_redis_cluster import ClusterNode, RedisClusterServers, wait_for

pytestmark = pytest.mark.redis


def test_the_url_or_the_flag_selects_the_cluster_bus() -> None:
    hub = Hub()
    assert isinstance(make_broker(None, hub, "i"), MemoryBroker)
    assert isinstance(make_broker("redis://h:7000/0", hub, "i"), RedisBroker)
    assert isinstance(make_broker("redis+cluster://h:7000", hub, "i"), ClusterBroker)
    assert isinstance(make_broker("redis://h:7000", hub, "i", cluster=True), ClusterBroker)
    assert redis_cluster({"REDIS_URL": "redis://h:7000", "NOTIFIER_REDIS_CLUSTER": True})
    assert redis_cluster({"REDIS_HOST": "h", "NOTIFIER_REDIS_CLUSTER": True})
    assert not redis_cluster({"NOTIFIER_REDIS_CLUSTER": True})  # no Redis at all: memory
    cfg = {"REDIS_URL": "redis://h:7000", "NOTIFIER_REDIS_CLUSTER": True}
    assert storage_uri(cfg) == "redis+cluster://h:7000"


def test_seeds_and_password_come_from_the_url() -> None:
    seeds, password = parse_cluster_url("redis+cluster://:s%40cret@a:7000,b:7001/0")
    assert seeds == [Node("a", 7000), Node("b", 7001)] and password == "s@cret"
    assert parse_cluster_url("redis://h:7000") == ([Node("h", 7000)], None)
    for bad in ("unix:///tmp/r.sock", "redis+cluster://", "redis+cluster://host"):
        with pytest.raises(ValueError):
            parse_cluster_url(bad)


@pytest.fixture
def broker(redis_cluster_url: str) -> Iterator[ClusterBroker]:
    instance = ClusterBroker(Hub(), redis_cluster_url, instance=f"t-{uuid.uuid4().hex[:8]}")
    instance.start()
    yield instance
    instance.stop()


def test_one_pub_sub_connection_per_shard_however_many_users(
    broker: ClusterBroker, redis_cluster: RedisClusterServers
) -> None:
    per_node: dict[int, list[int]] = {n.port: [] for n in redis_cluster.nodes}
    user_id = 100
    while min(len(v) for v in per_node.values()) < 5:
        user_id += 1
        per_node[redis_cluster.node_for(broker.channel(user_id)).port].append(user_id)
    subs = [broker.hub.subscribe(u, 1) for users in per_node.values() for u in users[:5]]
    name = f"notifier:{broker.instance}:sub"
    for node in redis_cluster.nodes:
        with node.client() as client:
            mine = [c for c in client.client_list() if c.get("name") == name]
        assert len(mine) == 1, (node.port, mine)
        assert int(mine[0]["ssub"]) == 5  # one sharded channel per local user of that shard
    for sub in subs:
        broker.hub.unsubscribe(sub)
    for node in redis_cluster.nodes:
        wait_for(lambda n=node: ssubs(n, name) == 0, "the last streams to unsubscribe")


def ssubs(node: ClusterNode, name: str) -> int:
    with node.client() as client:
        return sum(int(c["ssub"]) for c in client.client_list() if c.get("name") == name)


def node_id(client: redis.Redis) -> str:
    return str(client.execute_command("CLUSTER MYID").decode())


def test_a_moved_slot_is_followed_to_its_new_primary(
    broker: ClusterBroker, redis_cluster: RedisClusterServers
) -> None:
    user_id = 4242
    channel = broker.channel(user_id)
    sub = broker.hub.subscribe(user_id, 1)
    source = redis_cluster.node_for(channel)
    target = next(n for n in redis_cluster.nodes if n is not source)
    slot = slot_of(channel)
    with source.client() as src, target.client() as dst:
        assert dict(src.pubsub_shardnumsub(channel))[channel.encode()] == 1
        dst_id = node_id(dst)
        # Hand the (keyless) slot over, as a resharding or a failover does.
        dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", node_id(src))
        src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        for node in redis_cluster.nodes:
            with node.client() as c:
                c.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        # Redis tells the subscriber (SUNSUBSCRIBE); the broker re-subscribes on the target.
        wait_for(
            lambda: dict(dst.pubsub_shardnumsub(channel)).get(channel.encode()) == 1,
            "the subscription to follow the slot",
        )
    assert broker.slots.node_for(channel).port == target.port
    assert sub.needs_replay  # the streams replay what the move may have cost them
    assert broker.publish([Message(user_id, 1, 7, "notification", {"n": 7})]) is True
    got = None
    deadline = time.monotonic() + 20
    while got is None and time.monotonic() < deadline:
        got = sub.get(timeout=1)
    assert got is not None and got.cursor == 7


def test_a_command_publishes_without_starting_the_broker(
    broker: ClusterBroker, redis_cluster_url: str
) -> None:
    sub = broker.hub.subscribe(7, 1)
    cli = ClusterBroker(Hub(), redis_cluster_url, instance="cli")  # never started, like `flask …`
    try:
        assert cli.publish([Message(7, 1, 1, "notification", {"n": 1})]) is True
        got = sub.get(timeout=20)
        assert got is not None and got.cursor == 1
    finally:
        cli.stop()


def test_node_stats_are_shared_through_the_cluster(broker: ClusterBroker) -> None:
    broker.publish_node_stats("p1", {"connections": 3}, ttl=30)
    broker.publish_node_stats("p2", {"connections": 4}, ttl=30)
    found = {s["instance"]: s["connections"] for s in broker.cluster_stats()}
    assert {k: v for k, v in found.items() if k in ("p1", "p2")} == {"p1": 3, "p2": 4}
