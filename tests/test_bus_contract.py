"""Check the guarantees of notifier/bus/base.py against both brokers with one suite.

The redis variant runs a real redis-server (tests/fixtures_redis.py). The test process is
gevent-patched (conftest.py), as the server is, and the tests wait cooperatively
(Subscription.get, gevent.sleep), so the listener greenlet runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest

from notifier.bus import (
    CLOSE_EVENT,
    Broker,
    Hub,
    MemoryBroker,
    Message,
    RedisBroker,
    Subscription,
    TooManyConnections,
    broadcast,
    close_message,
    connected,
    disconnected,
)
from notifier.bus.cluster import ClusterBroker

DEADLINE = 20.0  # generous: these are waits for an event, never timing assertions


def msg(user_id: int, cursor: int, tenant_id: int = 1, event: str = "notification") -> Message:
    """Build a logged message for ``user_id`` with a recognisable payload."""
    return Message(user_id, tenant_id, cursor, event, {"n": cursor})


def receive(sub: Subscription, count: int, deadline: float = DEADLINE) -> list[Message]:
    """Collect ``count`` messages from ``sub``, giving up at the deadline."""
    got: list[Message] = []
    end = time.monotonic() + deadline
    while len(got) < count and (left := end - time.monotonic()) > 0:
        item = sub.get(timeout=left)
        if item is not None:
            got.append(item)
    return got


def wait_until(predicate: Callable[[], bool], deadline: float = DEADLINE) -> bool:
    """Poll ``predicate`` cooperatively until true or the deadline passes."""
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            return False
        gevent.sleep(0.01)
    return True


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.redis),
    ]
)
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Yield a started broker of each kind on a fresh hub (queue 64, 3 per user)."""
    hub = Hub(queue_size=64, max_per_user=3, max_total=1000)
    if request.param == "memory":
        instance: Broker = MemoryBroker(hub)
    elif request.param == "cluster":
        url = request.getfixturevalue("redis_cluster_url")
        instance = ClusterBroker(hub, url, instance=f"t-{uuid.uuid4().hex[:8]}")
    else:
        url = request.getfixturevalue("redis_url")
        instance = RedisBroker(hub, url, instance=f"t-{uuid.uuid4().hex[:8]}")
    instance.start()
    yield instance
    instance.stop()


def test_message_reaches_every_subscription_of_its_user_only(broker: Broker) -> None:
    a1 = broker.hub.subscribe(1, 1)
    a2 = broker.hub.subscribe(1, 1, kind="html")
    b = broker.hub.subscribe(2, 1)
    assert broker.publish([msg(1, 1)]) is True
    assert [m.data for m in receive(a1, 1)] == [{"n": 1}]
    assert [m.data for m in receive(a2, 1)] == [{"n": 1}]
    # Delivered in the same deliver() call as a1's and a2's, so it would be here already.
    assert b.queue.qsize() == 0
    assert broker.publish([msg(2, 7)]) is True
    assert [(m.user_id, m.cursor) for m in receive(b, 1)] == [(2, 7)]
    assert a1.queue.qsize() == 0 and a2.queue.qsize() == 0


def test_order_is_preserved_for_1000_messages(broker: Broker) -> None:
    sub = broker.hub.subscribe(1, 1)
    got: list[Message] = []

    def read() -> None:
        while len(got) < 1000 and (item := sub.get(timeout=DEADLINE)) is not None:
            got.append(item)

    reader = gevent.spawn(read)
    # Batches of 50 (under the queue size): the reader drains between publishes.
    for start in range(1, 1001, 50):
        assert broker.publish([msg(1, c) for c in range(start, start + 50)]) is True
        assert wait_until(lambda start=start: len(got) >= start + 49)
    reader.join(timeout=DEADLINE)
    assert [m.cursor for m in got] == list(range(1, 1001))
    assert not sub.overflowed


def test_one_publish_larger_than_a_chunk_arrives_whole(broker: Broker) -> None:
    broker.hub.queue_size = 1200
    sub = broker.hub.subscribe(1, 1)
    assert broker.publish([msg(1, c) for c in range(1, 1101)]) is True
    assert [m.cursor for m in receive(sub, 1100)] == list(range(1, 1101))


def test_full_queue_closes_only_the_slow_subscription(broker: Broker) -> None:
    slow = broker.hub.subscribe(1, 1)
    fast = broker.hub.subscribe(1, 1)
    other = broker.hub.subscribe(2, 1)
    got: list[Message] = []
    cursor = 0
    for _ in range(4):  # 4 x 20 = 80 messages > queue size 64; fast drains every round
        batch = [msg(1, cursor + i) for i in range(1, 21)]
        cursor += 20
        assert broker.publish(batch) is True
        got.extend(receive(fast, 20))
    assert [m.cursor for m in got] == list(range(1, 81))
    assert slow.overflowed and slow.closed and slow.close_reason == "overflow"
    assert slow.get(timeout=0) is None  # a closed subscription yields nothing more
    assert not fast.overflowed and not fast.closed
    assert broker.hub.subscriptions() and slow not in broker.hub.subscriptions()
    assert broker.hub.by_user().get(1, 0) == 1
    assert broker.publish([msg(2, 1)]) is True
    assert [m.cursor for m in receive(other, 1)] == [1]


def test_per_user_limit_raises_too_many_connections(broker: Broker) -> None:
    subs = [broker.hub.subscribe(1, 1) for _ in range(3)]
    with pytest.raises(TooManyConnections) as info:
        broker.hub.subscribe(1, 1)
    assert info.value.scope == "user"
    assert broker.hub.subscribe(2, 1).user_id == 2  # other users are unaffected
    broker.hub.unsubscribe(subs[0])
    assert broker.hub.subscribe(1, 1).user_id == 1  # a closed slot is free again


def test_process_limit_raises_with_process_scope() -> None:
    hub = Hub(max_per_user=5, max_total=2)
    hub.subscribe(1, 1)
    hub.subscribe(2, 1)
    with pytest.raises(TooManyConnections) as info:
        hub.subscribe(3, 1)
    assert info.value.scope == "process"


def test_counts_rise_and_fall(broker: Broker) -> None:
    hub = broker.hub
    assert (hub.total_count(), hub.connected_user_ids(), hub.by_user()) == (0, [], {})
    a1, a2, b = hub.subscribe(1, 1), hub.subscribe(1, 1), hub.subscribe(2, 1)
    assert hub.total_count() == 3
    assert (hub.by_user().get(1, 0), hub.by_user().get(2, 0), hub.by_user().get(3, 0)) == (2, 1, 0)
    assert sorted(hub.connected_user_ids()) == [1, 2]
    assert hub.by_user() == {1: 2, 2: 1}
    assert set(hub.subscriptions()) == {a1, a2, b}
    hub.unsubscribe(a1)
    hub.unsubscribe(b)
    assert hub.total_count() == 1 and hub.by_user() == {1: 1}
    assert hub.connected_user_ids() == [1]
    hub.unsubscribe(a2)
    assert (hub.total_count(), hub.connected_user_ids(), hub.by_user()) == (0, [], {})


def test_unsubscribe_is_idempotent(broker: Broker) -> None:
    reasons: list[str] = []

    def on_disconnect(sender: Hub, subscription: Subscription, reason: str) -> None:
        reasons.append(reason)

    sub = broker.hub.subscribe(1, 1)
    keep = broker.hub.subscribe(1, 1)
    with disconnected.connected_to(on_disconnect, sender=broker.hub):
        broker.hub.unsubscribe(sub, "client gone")
        broker.hub.unsubscribe(sub, "again")
    assert reasons == ["client gone"]
    assert sub.closed and broker.hub.total_count() == 1 and broker.hub.by_user().get(1, 0) == 1
    assert broker.hub.subscriptions() == [keep]


def test_sweep_removes_closed_and_stale_subscriptions(broker: Broker) -> None:
    hub = broker.hub
    fresh, stale, closed = hub.subscribe(1, 1), hub.subscribe(1, 1), hub.subscribe(2, 1)
    stale.last_seen = time.time() - 120
    closed.close("stream ended")
    assert hub.sweep(max_idle=60) == 2
    assert hub.subscriptions() == [fresh]
    assert stale.closed and stale.close_reason == "idle"
    assert closed.close_reason == "stream ended"
    fresh.touch()
    assert hub.sweep(max_idle=60) == 0


def test_signals_fire_with_their_kwargs(broker: Broker) -> None:
    hub = broker.hub
    seen: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Callable[..., None]:
        def receive_signal(sender: Hub, **kwargs: Any) -> None:
            assert sender is hub
            seen.append((name, kwargs))

        return receive_signal

    on_connect, on_disconnect, on_broadcast = recorder("c"), recorder("d"), recorder("b")
    with (
        connected.connected_to(on_connect, sender=hub),
        disconnected.connected_to(on_disconnect, sender=hub),
        broadcast.connected_to(on_broadcast, sender=hub),
    ):
        sub = hub.subscribe(5, 2)
        sent = msg(5, 1, tenant_id=2)
        assert broker.publish([sent]) is True
        assert receive(sub, 1) == [sent]
        assert wait_until(lambda: any(name == "b" for name, _ in seen))
        hub.unsubscribe(sub, "bye")
    assert [name for name, _ in seen] == ["c", "b", "d"]
    assert seen[0][1] == {"subscription": sub}
    assert list(seen[1][1]["messages"]) == [sent]
    assert seen[1][1]["deliveries"] == 1
    assert 0 <= seen[1][1]["latency"] < DEADLINE
    assert seen[2][1] == {"subscription": sub, "reason": "bye"}


def test_wake_and_replay_flag_unblock_a_waiting_reader(broker: Broker) -> None:
    sub = broker.hub.subscribe(1, 1)
    waiter = gevent.spawn(sub.get, 60)
    gevent.sleep(0)  # let it block in get()
    broker.hub.request_replay_all()
    assert waiter.get(timeout=DEADLINE) is None
    assert sub.needs_replay
    assert broker.publish([msg(1, 3)]) is True  # the slot the wake used is free again
    assert [m.cursor for m in receive(sub, 1)] == [3]


def test_close_all_empties_the_hub_and_ends_streams(broker: Broker) -> None:
    subs = [broker.hub.subscribe(u, 1) for u in (1, 1, 2)]
    broker.hub.close_all("shutdown")
    assert broker.hub.total_count() == 0
    assert all(s.closed and s.close_reason == "shutdown" for s in subs)


def test_a_close_message_closes_the_streams_of_its_credential(broker: Broker) -> None:
    hub = broker.hub
    by_token = hub.subscribe(1, 1, credential=("token", 5))
    by_session = hub.subscribe(1, 1, kind="html", credential=("session", 5))
    by_other = hub.subscribe(1, 1, credential=("token", 6))
    elsewhere = hub.subscribe(2, 1, credential=("token", 5))  # same id, another user
    assert broker.publish([close_message(1, 1, ("token", 5))]) is True
    assert wait_until(lambda: by_token.closed)
    assert by_token.close_reason == "revoked"
    # A logged message after the close: the survivors get it, and nothing before it.
    assert broker.publish([msg(1, 1), msg(2, 1)]) is True
    assert [m.cursor for m in receive(by_session, 1)] == [1]
    assert [m.cursor for m in receive(by_other, 1)] == [1]
    assert [m.cursor for m in receive(elsewhere, 1)] == [1]
    assert not (by_session.closed or by_other.closed or elsewhere.closed)
    assert broker.publish([close_message(1, 1)]) is True  # no credential: all of user 1's
    assert wait_until(lambda: by_session.closed and by_other.closed)
    assert hub.by_user().get(1, 0) == 0 and hub.by_user().get(2, 0) == 1 and not elsewhere.closed


def test_a_malformed_close_message_closes_nothing(broker: Broker) -> None:
    sub = broker.hub.subscribe(1, 1, credential=("token", 5))
    garbage = [
        Message(1, 1, 0, CLOSE_EVENT, {"credential": bad})
        for bad in ("token", ["token"], ["token", "x"], {"a": 1}, 7)
    ]
    assert broker.publish([*garbage, Message(1, 1, 0, CLOSE_EVENT, [1]), msg(1, 1)]) is True
    assert [(m.event, m.cursor) for m in receive(sub, 1)] == [("notification", 1)]
    assert not sub.closed and sub.queue.qsize() == 0


def test_meta_is_json_ready() -> None:
    sub = Hub().subscribe(4, 2, kind="html", user_agent="pytest")
    sub.connected_at = 1767225600.5  # 2026-01-01T00:00:00.5Z
    sub.last_cursor = 9
    assert sub.meta() == {
        "client_id": sub.client_id,
        "user_id": 4,
        "tenant_id": 2,
        "kind": "html",
        "user_agent": "pytest",
        "connected_at": "2026-01-01T00:00:00Z",
        "last_cursor": 9,
    }
    assert len(sub.client_id) == 32


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        Hub().subscribe(1, 1, kind="xml")


def test_online_answers_from_the_local_hub(broker: Broker) -> None:
    sub = broker.hub.subscribe(5, 1)
    assert broker.online(5) is True
    assert broker.online(6) is False
    broker.hub.unsubscribe(sub)
    assert broker.online(5) is False


@pytest.mark.redis
@pytest.mark.parametrize("kind", ["redis", "cluster"])
def test_presence_published_by_one_process_is_seen_by_another(
    request: pytest.FixtureRequest, kind: str
) -> None:
    """Workflows' `unless: connected` asks a process that holds none of the user's streams."""
    prefix = f"presence-{uuid.uuid4().hex[:8]}"  # no other test's keys in the shared server
    cls: type[RedisBroker] | type[ClusterBroker]
    if kind == "cluster":
        url, cls = request.getfixturevalue("redis_cluster_url"), ClusterBroker
    else:
        url, cls = request.getfixturevalue("redis_url"), RedisBroker
    one = cls(Hub(), url, channel_prefix=prefix, instance="one")
    two = cls(Hub(), url, channel_prefix=prefix, instance="two")
    one.start()
    two.start()
    try:
        sub = one.hub.subscribe(7, 1)
        assert two.online(7) is False  # not shared yet
        one.publish_presence("one", one.hub.connected_user_ids(), 10)
        assert two.online(7) is True
        assert two.online(8) is False
        one.hub.unsubscribe(sub)
        one.publish_presence("one", one.hub.connected_user_ids(), 10)
        assert two.online(7) is False
    finally:
        one.stop()
        two.stop()
