"""Check what only the Redis broker does, against a real redis-server.

Two brokers on two hubs stand for two processes. This pytest process is gevent-patched
(conftest.py), as the server is; one test runs an un-patched subprocess, which start()
refuses. Waits poll cooperatively with a generous deadline; nothing asserts on elapsed time.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis

from notifier.bus import Hub, RedisBroker, close_message
from tests.fixtures_receivers import free_port
from tests.fixtures_redis import RedisServer
from tests.test_bus_contract import DEADLINE, msg, receive, wait_until

pytestmark = pytest.mark.redis

Factory = Callable[..., RedisBroker]


@pytest.fixture
def make(redis_url: str) -> Iterator[Factory]:
    """Return a factory of started brokers (fast backoff), each on its own hub."""
    made: list[RedisBroker] = []

    def factory(**kwargs: Any) -> RedisBroker:
        hub = Hub(queue_size=64, max_per_user=5, max_total=1000)
        opts = {"backoff_base": 0.05, "backoff_cap": 0.5, "subscribe_timeout": 5.0, **kwargs}
        broker = RedisBroker(hub, redis_url, instance=f"t-{uuid.uuid4().hex[:8]}", **opts)
        broker.start()
        made.append(broker)
        return broker

    yield factory
    for broker in made:
        broker.stop()


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """Return a plain client on the test server for assertions."""
    plain = redis_server.client()
    yield plain
    plain.close()


def pubsub_names(client: redis.Redis) -> list[str]:
    """Return the names of the server's pub/sub connections."""
    return [entry["name"] for entry in client.client_list(_type="pubsub")]


def test_two_processes_both_deliver_one_publish(make: Factory) -> None:
    first, second = make(), make()
    local = first.hub.subscribe(1, 1)
    remote = [second.hub.subscribe(1, 1), second.hub.subscribe(1, 1)]
    bystander = second.hub.subscribe(2, 1)
    assert first.publish([msg(1, 1)]) is True
    for sub in [local, *remote]:
        assert [m.cursor for m in receive(sub, 1)] == [1]
    assert bystander.queue.qsize() == 0


def test_a_close_message_from_one_process_closes_streams_in_both(make: Factory) -> None:
    first, second = make(), make()
    here = first.hub.subscribe(1, 1, credential=("session", 3))
    there = second.hub.subscribe(1, 1, kind="html", credential=("session", 3))
    kept = second.hub.subscribe(1, 1, credential=("session", 4))
    assert first.publish([close_message(1, 1, ("session", 3))]) is True
    assert wait_until(lambda: here.closed and there.closed)
    assert second.hub.by_user().get(1, 0) == 1 and not kept.closed


def test_one_pubsub_connection_per_broker_however_many_subscriptions(
    make: Factory, client: redis.Redis
) -> None:
    broker, other = make(), make()
    subs = [broker.hub.subscribe(user_id, 1) for user_id in range(1, 51)]
    assert broker.publish([msg(user_id, 1) for user_id in range(1, 51)]) is True
    assert all(len(receive(sub, 1)) == 1 for sub in subs)
    names = pubsub_names(client)
    assert names.count(f"notifier:{broker.instance}:sub") == 1
    assert names.count(f"notifier:{other.instance}:sub") == 1


def test_publish_returns_false_while_redis_is_down(
    make: Factory, redis_server: RedisServer
) -> None:
    broker = make()
    redis_server.kill()
    try:
        assert broker.publish([msg(1, 1)]) is False
        assert broker.publish([msg(1, 2)]) is False
        assert broker.publish_failures == 2
        assert wait_until(lambda: not broker.available())
        assert broker.cluster_stats() == []
        broker.publish_node_stats(broker.instance, {"connections": 0}, ttl=10)  # no raise
        assert broker.running
    finally:
        redis_server.start()


def test_listener_reconnects_and_asks_every_stream_to_replay(
    make: Factory, redis_server: RedisServer, client: redis.Redis
) -> None:
    broker = make()
    hooks: list[int] = []
    broker.on_reconnect.append(lambda: hooks.append(broker.reconnects))
    subs = [broker.hub.subscribe(user_id, 1) for user_id in (1, 2, 2)]
    waiters = [gevent.spawn(sub.get, 600) for sub in subs]
    gevent.sleep(0)  # let every waiter block in get()
    redis_server.kill()
    try:
        assert wait_until(lambda: not broker.available())
        assert broker.reconnects == 0
        assert not any(sub.needs_replay for sub in subs)
    finally:
        redis_server.start()
    assert wait_until(lambda: broker.reconnects == 1)
    assert broker.available() and hooks == [1]
    assert all(sub.needs_replay for sub in subs)
    gevent.joinall(waiters, timeout=DEADLINE)
    assert [(w.ready(), w.value) for w in waiters] == [(True, None)] * 3  # woken, not timed out
    assert pubsub_names(client).count(f"notifier:{broker.instance}:sub") == 1
    assert broker.publish([msg(1, 5)]) is True  # the command pool recovers too
    assert [m.cursor for m in receive(subs[0], 1)] == [5]


def test_a_silent_server_counts_as_a_lost_connection(make: Factory, client: redis.Redis) -> None:
    broker = make(ping_interval=0.2)
    sub = broker.hub.subscribe(1, 1)
    # Paused clients get no PONG: the liveness check must give up on the connection.
    client.client_pause(1500, all=True)
    assert wait_until(lambda: broker.reconnects >= 1)
    assert sub.needs_replay
    assert broker.publish([msg(1, 4)]) is True
    assert [m.cursor for m in receive(sub, 1)] == [4]


def test_an_idle_healthy_connection_is_kept(make: Factory, client: redis.Redis) -> None:
    def pings() -> int:
        return int(client.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))

    before = pings()
    broker = make(ping_interval=0.05)
    # Each ping is sent only after the previous PONG came back; a missed PONG would reconnect.
    assert wait_until(lambda: pings() >= before + 5)
    assert broker.reconnects == 0 and broker.available()


def test_reconnect_backoff_doubles_up_to_the_cap(redis_url: str) -> None:
    broker = RedisBroker(Hub(), redis_url, instance="backoff", backoff_base=1, backoff_cap=8)
    waits: list[float] = []

    class RecordingStop:
        def is_set(self) -> bool:
            return False

        def wait(self, timeout: float) -> bool:
            waits.append(timeout)
            return len(waits) >= 6  # "stopped" on the sixth wait

    def refuse(deadline: float) -> None:
        raise redis.ConnectionError("refused")

    broker._stop = RecordingStop()  # type: ignore[assignment]
    broker._subscribe = refuse  # type: ignore[method-assign]
    broker._listen()
    assert waits == [1, 2, 4, 8, 8, 8]


def test_node_stats_expire_and_are_visible_to_other_processes(
    make: Factory, client: redis.Redis
) -> None:
    first, second = make(), make()
    first.publish_node_stats("node-a", {"connections": 3}, ttl=30)
    second.publish_node_stats("node-b", {"connections": 1}, ttl=30)
    client.set("notifier:node:broken", "{not json")
    assert second.cluster_stats() == [
        {"connections": 3, "instance": "node-a"},
        {"connections": 1, "instance": "node-b"},
    ]
    assert 0 < client.ttl("notifier:node:node-a") <= 30
    assert 0 < client.ttl("notifier:node:node-b") <= 30


def test_garbage_on_the_channel_is_skipped(make: Factory, client: redis.Redis) -> None:
    broker = make()
    sub = broker.hub.subscribe(1, 1)
    for garbage in [b"not json", b"\xff\xfe", b'{"u": 1}', b"[1]", b'[{"u": 1}]', b'[{"u": "x"}]']:
        client.publish(broker.channel, garbage)
    assert broker.publish([msg(1, 9)]) is True
    assert [m.cursor for m in receive(sub, 1)] == [9]
    assert broker.skipped_payloads == 6
    assert broker.running


def test_channel_prefix_separates_deployments(make: Factory) -> None:
    blue, green = make(channel_prefix="blue"), make(channel_prefix="green")
    blue_sub, green_sub = blue.hub.subscribe(1, 1), green.hub.subscribe(1, 1)
    assert blue.publish([msg(1, 1)]) is True
    assert [m.cursor for m in receive(blue_sub, 1)] == [1]
    assert green.publish([msg(1, 2)]) is True
    assert [m.cursor for m in receive(green_sub, 1)] == [2]  # blue's message never arrived


def test_start_fails_clearly_and_hides_the_password() -> None:
    broker = RedisBroker(
        Hub(), "redis://:s3cret@127.0.0.1:1/0", instance="down", subscribe_timeout=0.5
    )
    with pytest.raises(RuntimeError, match="no SUBSCRIBE acknowledgement") as info:
        broker.start()
    assert "s3cret" not in str(info.value) and "***" in str(info.value)
    assert not broker.running and not broker.available()
    broker.stop()


def test_stop_ends_the_listener_and_closes_its_connection(
    make: Factory, client: redis.Redis
) -> None:
    broker = make()
    name = f"notifier:{broker.instance}:sub"
    assert broker.running and name in pubsub_names(client)
    broker.stop()
    assert not broker.running and not broker.available()
    assert wait_until(lambda: name not in pubsub_names(client))
    broker.stop()  # idempotent


UNPATCHED = """
import sys
from notifier.bus import Hub, make_broker
broker = make_broker(sys.argv[1], Hub(), "unpatched")
try:
    broker.start()
except RuntimeError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.parametrize("kind", ["redis", "cluster"])
def test_start_refuses_a_process_without_gevent_patching(redis_url: str, kind: str) -> None:
    # One blocking read would freeze every stream of such a process; refuse, and say why.
    # The cluster broker refuses before it contacts a node, so a closed port will do.
    url = redis_url if kind == "redis" else f"redis+cluster://127.0.0.1:{free_port()}"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", UNPATCHED, url],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "not gevent-patched" in done.stdout
    assert "monkey.patch_all()" in done.stdout
