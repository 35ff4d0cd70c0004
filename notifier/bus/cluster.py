"""Carry bus messages over Redis Cluster sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7+).

Selected by ``REDIS_URL=redis+cluster://host:port[,host:port…]`` or ``NOTIFIER_REDIS_CLUSTER=1``.
Each user has a channel, ``{prefix}:u:{user_id}``; its hash slot decides the primary that
carries it, so the traffic spreads over the shards and a process receives only the messages
of the users it holds streams for. Per process: one pub/sub connection per primary that
serves at least one local user (bus/cluster_shard.py), and a small command pool per primary.

A user's first local stream SSUBSCRIBEs their channel and waits (up to ``subscribe_timeout``)
for the acknowledgement, so a publish right after it arrives; the last stream's end
SUNSUBSCRIBEs it. A shard connection lost (node restart, failover) is re-established with
back-off after refreshing the slot map; users whose slot moved are re-subscribed on the new
primary; each re-acknowledged user's streams replay from the event log (the cursor covers
the gap). A publish to a shard that is down returns False, as the Redis broker's does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import gevent
from gevent.event import Event

from notifier.bus.base import Broker, Item, decode_batch, require_patched
from notifier.bus.cluster_publish import Publisher
from notifier.bus.cluster_shard import Shard
from notifier.bus.cluster_slots import ERRORS, Node, SlotMap, SlotUncovered, parse_cluster_url
from notifier.bus.hub import Hub, Subscription, connected, disconnected

log = logging.getLogger(__name__)


class ClusterBroker(Broker):
    """Per-user sharded channels over a Redis Cluster; one pub/sub connection per shard."""

    mode = "redis"  # the status pages, readiness and metrics treat it as the Redis bus
    topology = "cluster"

    def __init__(
        self,
        hub: Hub,
        url: str,
        *,
        channel_prefix: str = "notifier",
        instance: str,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        subscribe_timeout: float = 10.0,
        ping_interval: float = 15.0,
        max_connections: int = 20,
    ) -> None:
        super().__init__(hub)
        seeds, password = parse_cluster_url(url)
        self.url = url
        self.instance = instance
        self.prefix = channel_prefix
        self.subscribe_timeout = subscribe_timeout
        # How long a user's first stream waits for its SSUBSCRIBE acknowledgement; a later
        # acknowledgement makes the stream replay instead, so this bounds only the delay.
        self.ack_timeout = min(2.0, subscribe_timeout)
        self.publish_failures = self.skipped_payloads = 0
        self._reconnects_before = 0  # of shards that were replaced after a slot move
        self._options: dict[str, Any] = {
            "password": password,
            "socket_connect_timeout": 5.0,
            "socket_timeout": 5.0,
            "socket_keepalive": True,
        }
        self._shard_args = {"backoff": (backoff_base, backoff_cap), "ping_interval": ping_interval}
        self.slots = SlotMap(seeds, self._options)
        self._shards: dict[str, Shard] = {}
        self._home: dict[int, str] = {}  # user id → the shard name their channel is on
        self._waiting: dict[int, Event] = {}  # users whose first stream awaits the SSUBSCRIBE ack
        self._publisher = Publisher(
            self.slots,
            self._options,
            channel=self.channel,
            prefix=channel_prefix,
            client_name=f"notifier:{instance}:cmd",
            max_connections=max_connections,
            on_stale=self._rebalance,
        )
        self._started = False

    # -- channels ---------------------------------------------------------------------------

    def channel(self, user_id: int) -> str:
        """Return the sharded channel of ``user_id``."""
        return f"{self.prefix}:u:{user_id}"

    def _user_of(self, channel: bytes) -> int | None:
        head, _, uid = channel.decode(errors="replace").rpartition(":u:")
        return int(uid) if head == self.prefix and uid.isdigit() else None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def reconnects(self) -> int:
        """Return how many times a shard connection came back (for the bus metrics)."""
        return self._reconnects_before + sum(s.reconnects for s in self._shards.values())

    @property
    def running(self) -> bool:
        """Return True between start() and stop()."""
        return self._started

    def start(self) -> None:
        """Load the slot map (RuntimeError if no node answers), then follow the hub.

        Raises RuntimeError in a process whose sockets gevent has not patched.
        """
        if self._started:
            return
        require_patched("redis cluster bus")
        try:
            self.slots.refresh()
        except ERRORS as exc:
            raise RuntimeError(
                f"redis cluster bus: no slot map from {self.slots.seeds}: {exc}"
            ) from exc
        connected.connect(self._connected, sender=self.hub, weak=False)
        disconnected.connect(self._disconnected, sender=self.hub, weak=False)
        self._started = True
        for user_id in self.hub.connected_user_ids():  # streams opened before the bus was up
            self._follow(user_id, wait=False)

    def stop(self) -> None:
        """Stop every shard reader and close every connection; safe to call twice."""
        if self._started:
            connected.disconnect(self._connected, sender=self.hub)
            disconnected.disconnect(self._disconnected, sender=self.hub)
        self._started = False
        shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            shard.stop()
        self._home.clear()
        self._publisher.close()

    def available(self) -> bool:
        """Return True when started and every shard holding local users is connected."""
        if not self._started or not self.slots.known:
            return False
        return all(s.connected or not s.users for s in self._shards.values())

    # -- following the hub ------------------------------------------------------------------

    def _connected(self, hub: Hub, subscription: Subscription) -> None:
        if subscription.user_id not in self._home:
            self._follow(subscription.user_id, wait=True)

    def _disconnected(self, hub: Hub, subscription: Subscription, reason: str) -> None:
        user_id = subscription.user_id
        if hub.user_count(user_id) == 0 and user_id in self._home:
            shard = self._shards.get(self._home.pop(user_id))
            if shard is not None:
                shard.unsubscribe(user_id)

    def _shard(self, node: Node) -> Shard:
        shard = self._shards.get(node.name)
        if shard is None:
            shard = self._shards[node.name] = Shard(
                node,
                self._options,
                on_payload=self._payload,
                on_acknowledged=self._acknowledged,
                on_moved=self._moved,
                on_lost=self._lost,
                channel=self.channel,
                client_name=f"notifier:{self.instance}:sub",
                **self._shard_args,  # type: ignore[arg-type]
            )
        return shard

    def _follow(self, user_id: int, *, wait: bool) -> None:
        """SSUBSCRIBE ``user_id``'s channel on its shard; with ``wait``, await the ack."""
        try:
            node = self.slots.node_for(self.channel(user_id))
        except SlotUncovered:
            log.warning("redis cluster bus: no shard for user %s yet; will retry", user_id)
            return
        shard = self._shard(node)
        self._home[user_id] = node.name
        # A shard known to be down would hold the stream for nothing: its reconnect
        # re-subscribes this user and the acknowledgement then triggers the replay.
        wait = wait and not shard.failing
        if wait:
            event = self._waiting[user_id] = Event()
        shard.subscribe(user_id)
        if wait and not event.wait(self.ack_timeout):
            self._waiting.pop(user_id, None)  # a late ack replays instead

    def _acknowledged(self, channel: bytes) -> None:
        user_id = self._user_of(channel)
        if user_id is None:
            return
        event = self._waiting.pop(user_id, None)
        if event is not None:
            event.set()
            return
        for sub in self.hub.subscriptions():
            if sub.user_id == user_id:
                sub.needs_replay = True
                sub.wake()

    def _moved(self, channel: bytes) -> None:
        """A SUNSUBSCRIBE we did not ask for (or a MOVED answer, ``b""``): the slot moved."""
        if not channel:
            self._rebalance()
            return
        user_id = self._user_of(channel)
        if user_id is not None and user_id in self._home:
            shard = self._shards.get(self._home[user_id])
            if shard is not None and user_id in shard.users:
                self._rebalance()

    def _lost(self, shard: Shard) -> None:
        self._rebalance()

    def _rebalance(self) -> None:
        """Refresh the slot map and move each user whose channel now lives elsewhere."""
        try:
            self.slots.refresh()
        except ERRORS as exc:
            log.warning("redis cluster bus: slot map refresh failed: %s", exc)
            return
        for user_id, name in list(self._home.items()):
            try:
                node = self.slots.node_for(self.channel(user_id))
            except SlotUncovered:
                continue
            if node.name != name:
                old = self._shards.get(name)
                if old is not None:
                    old.unsubscribe(user_id)
                self._home[user_id] = node.name
                self._shard(node).subscribe(user_id)  # its ack asks for the replay
        for name, shard in list(self._shards.items()):
            if not shard.users and name not in self.slots.primaries:
                self._reconnects_before += shard.reconnects
                del self._shards[name]
                gevent.spawn(shard.stop)  # maybe called from that shard's own greenlet

    def _payload(self, data: bytes) -> None:
        try:
            batch = decode_batch(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.skipped_payloads += 1
            log.warning("redis cluster bus: skipped an undecodable payload: %r", exc)
            return
        try:
            self.hub.deliver(batch)
        except Exception:
            log.exception("redis cluster bus: hub.deliver failed; streams will replay the gap")

    # -- publishing (bus/cluster_publish.py) -------------------------------------------------

    def publish(self, messages: Sequence[Item]) -> bool:
        """SPUBLISH each user's messages on their channel; False, never raise, on failure."""
        ok = self._publisher.publish(messages)
        if not ok:
            self.publish_failures += 1
        return ok

    def publish_node_stats(self, instance: str, stats: dict[str, Any], ttl: int) -> None:
        """Share this process's stats for ``ttl`` seconds (one hash tag for all processes)."""
        self._publisher.set_node_stats(instance, stats, ttl)

    def cluster_stats(self) -> list[dict[str, Any]]:
        """Return every live process's stats; [] when the cluster is unreachable."""
        return self._publisher.node_stats()

    def publish_presence(self, instance: str, user_ids: Sequence[int], ttl: int) -> None:
        """Share the users connected here for ``ttl`` seconds (under the stats' hash tag)."""
        self._publisher.set_presence(instance, user_ids, ttl)

    def online(self, user_id: int) -> bool:
        """Return True for a user connected here or in any live process's presence set."""
        return bool(self.hub.user_count(user_id)) or self._publisher.online(user_id)
