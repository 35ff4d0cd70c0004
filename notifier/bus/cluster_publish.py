"""SPUBLISH for the Redis Cluster bus: group each user's messages by primary, one pipeline each.

A MOVED or ASK answer means the slot map is stale: the broker refreshes it (``on_stale``,
which also moves the subscriptions) and the answered payloads are sent once more. Node
stats live under one hash tag, so one SCAN on one primary finds every process's key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.retry import Retry

from notifier.bus.base import Fanout, Item
from notifier.bus.cluster_slots import ERRORS, Node, SlotMap, SlotUncovered

log = logging.getLogger(__name__)

CHUNK = 500  # messages per SPUBLISH, as the Redis broker's PUBLISH


class Publisher:
    """Per-primary command pools and the SPUBLISH / node-stats commands sent through them."""

    def __init__(
        self,
        slots: SlotMap,
        options: dict[str, Any],
        *,
        channel: Callable[[int], str],
        prefix: str,
        client_name: str,
        max_connections: int,
        on_stale: Callable[[], None],
    ) -> None:
        self.slots = slots
        self.options = options
        self.channel = channel
        self.prefix = prefix
        self.client_name = client_name
        self.max_connections = max_connections
        self.on_stale = on_stale
        self._clients: dict[str, redis.Redis] = {}

    def close(self) -> None:
        """Close every pooled connection."""
        for client in self._clients.values():
            client.connection_pool.disconnect()
        self._clients.clear()

    # -- publishing -------------------------------------------------------------------------

    def _client(self, node: Node) -> redis.Redis:
        client = self._clients.get(node.name)
        if client is None:
            pool = redis.BlockingConnectionPool(
                host=node.host,
                port=node.port,
                max_connections=self.max_connections,
                timeout=5,
                retry=Retry(NoBackoff(), 1),
                client_name=self.client_name,
                **self.options,
            )
            client = self._clients[node.name] = redis.Redis(connection_pool=pool)
        return client

    def _plan(self, messages: Sequence[Item]) -> dict[Node, list[tuple[str, str]]]:
        """Group each user's items by primary, in publish order, CHUNK items per SPUBLISH.

        A tenant fan-out goes to each recipient's own channel as a one-entry fan-out (the
        sharded channels are per user, so a process hears only its users): its shared part
        is encoded once here and each entry appended, and every receiving process renders
        it once by the fan-out's key (stream/render.py).
        """
        by_user: dict[int, list[str]] = {}
        for message in messages:
            if isinstance(message, Fanout):
                head = json.dumps(message.shared_dict(), separators=(",", ":"))[:-1]
                for entry in message.entries:
                    one = f'{head},"x":[[{",".join(map(str, entry))}]]}}'
                    by_user.setdefault(entry[0], []).append(one)
            else:
                doc = json.dumps(message.to_dict(), separators=(",", ":"))
                by_user.setdefault(message.user_id, []).append(doc)
        plan: dict[Node, list[tuple[str, str]]] = {}
        for user_id, mine in by_user.items():
            channel = self.channel(user_id)
            node = self.slots.node_for(channel)
            for start in range(0, len(mine), CHUNK):
                payload = "[" + ",".join(mine[start : start + CHUNK]) + "]"
                plan.setdefault(node, []).append((channel, payload))
        return plan

    def _send(self, node: Node, items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """SPUBLISH ``items`` on ``node`` in one pipeline; return those answered MOVED/ASK."""
        with self._client(node).pipeline(transaction=False) as pipe:
            for channel, payload in items:
                pipe.spublish(channel, payload)
            results = pipe.execute(raise_on_error=False)
        moved = []
        for item, result in zip(items, results, strict=True):
            if isinstance(result, ResponseError):
                if str(result).startswith(("MOVED", "ASK")):
                    moved.append(item)
                else:
                    raise result
        return moved

    def publish(self, messages: Sequence[Item]) -> bool:
        """SPUBLISH each user's messages on their channel; return False on any failure."""
        if not messages:
            return True
        ok = True
        try:
            if not self.slots.known:  # a CLI command publishes without start()
                self.slots.refresh()
            plan = self._plan(messages)
        except (SlotUncovered, *ERRORS) as exc:
            plan, ok = {}, False
            log.warning(
                "redis cluster bus: publish of %d message(s) failed: %s", len(messages), exc
            )
        for node, items in plan.items():
            try:
                moved = self._send(node, items)
                if moved:  # the slot map is stale: refresh once and resend those
                    self.on_stale()
                    for channel, payload in moved:
                        self._client(self.slots.node_for(channel)).spublish(channel, payload)
            except (SlotUncovered, *ERRORS) as exc:
                ok = False
                log.warning("redis cluster bus: publish to %s failed: %s", node.name, exc)
        return ok

    # -- node stats -------------------------------------------------------------------------

    def _stats_key(self, instance: str) -> str:
        # One hash tag: every process's key lives in one slot, so one SCAN finds them all.
        return f"{{{self.prefix}}}:node:{instance}"

    def set_node_stats(self, instance: str, stats: dict[str, Any], ttl: int) -> None:
        """SET this process's stats under the shared hash tag, expiring after ``ttl`` seconds."""
        key = self._stats_key(instance)
        payload = json.dumps({**stats, "instance": instance}, separators=(",", ":"))
        with suppress(SlotUncovered, *ERRORS):
            self._client(self.slots.node_for(key)).set(key, payload, ex=ttl)

    def set_presence(self, instance: str, user_ids: Sequence[int], ttl: int) -> None:
        """Replace this process's presence set (same hash tag as the stats), expiring in ttl."""
        key = f"{{{self.prefix}}}:presence:{instance}"
        with (
            suppress(SlotUncovered, *ERRORS),
            self._client(self.slots.node_for(key)).pipeline(transaction=True) as pipe,
        ):
            pipe.delete(key)
            if user_ids:
                pipe.sadd(key, *user_ids)
                pipe.expire(key, ttl)
            pipe.execute()

    def online(self, user_id: int) -> bool:
        """Return True when a live process's presence set holds ``user_id``."""
        try:
            client = self._client(self.slots.node_for(self._stats_key("x")))
            keys = list(client.scan_iter(match=f"{{{self.prefix}}}:presence:*", count=100))
            if not keys:
                return False
            with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.sismember(key, str(user_id))
                return any(pipe.execute())
        except (SlotUncovered, *ERRORS):
            return False

    def node_stats(self) -> list[dict[str, Any]]:
        """Return every live process's stats (SCAN + MGET on the hash tag's shard)."""
        try:
            client = self._client(self.slots.node_for(self._stats_key("x")))
            keys = sorted(client.scan_iter(match=f"{{{self.prefix}}}:node:*", count=100))
            values: list[Any] = list(client.mget(keys)) if keys else []
        except (SlotUncovered, *ERRORS):
            return []
        out = []
        for raw in filter(None, values):
            with suppress(ValueError):
                item = json.loads(raw)
                if isinstance(item, dict):
                    out.append(item)
        return out
