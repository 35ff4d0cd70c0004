"""Carry bus messages between processes and hosts over one Redis pub/sub channel.

Each process holds ONE pub/sub connection and ONE listener greenlet however many streams it
serves. Publishers never deliver locally: their own listener receives their PUBLISH like
every other process's does (one code path, one order). publish() runs in the caller's
greenlet. This module is the publishing and shared-state half (node stats, presence); the
listener (subscribe, liveness, reconnects) is bus/redis_listen.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, cast

import redis
from gevent.event import Event
from redis.backoff import NoBackoff
from redis.retry import Retry

from notifier.bus.base import Broker, Item, encode_batch
from notifier.bus.hub import Hub
from notifier.bus.redis_listen import DRAIN, PING_PAYLOAD, READ_TIMEOUT, Listener
from notifier.bus.redis_listen import ERRORS as _ERRORS

__all__ = ["CHUNK", "DRAIN", "PING_PAYLOAD", "READ_TIMEOUT", "RedisBroker"]

log = logging.getLogger(__name__)

CHUNK = 500  # messages per PUBLISH: keeps one payload, and one listener wake-up, bounded


class RedisBroker(Listener, Broker):
    """Publish to ``{prefix}:events`` and feed every PUBLISH on it to the local hub."""

    mode = "redis"

    def __init__(
        self,
        hub: Hub,
        url: str,
        *,
        channel_prefix: str = "notifier",
        instance: str,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        subscribe_timeout: float = 10.0,
        ping_interval: float = 15.0,
        max_connections: int = 20,
    ) -> None:
        super().__init__(hub)
        self.url = url
        self.instance = instance
        self.prefix = channel_prefix
        self.channel = f"{channel_prefix}:events"
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.subscribe_timeout = subscribe_timeout
        self.ping_interval = ping_interval
        self.reconnects = self.publish_failures = self.skipped_payloads = 0
        self.on_reconnect: list[Callable[[], None]] = []
        self._available = False
        self._stop = Event()
        self._listener = None
        self._pubsub = None
        self._last_rx, self._ping_sent = 0.0, None  # liveness (redis_listen.Listener)
        opts: dict[str, Any] = {"socket_connect_timeout": 5.0, "socket_timeout": 5.0}
        if not url.startswith("unix:"):
            opts["socket_keepalive"] = True  # a TCP-only option; unix sockets reject it
        # Commands (PUBLISH, SET, SCAN): redis-py 8's default pool holds up to 100 connections
        # and raises when all are busy; this blocking pool of max_connections makes a burst of
        # publishers wait (up to 5 s) instead. One retry replaces a pooled connection that died
        # with a Redis restart; more would only delay a False.
        cmd = {"retry": Retry(NoBackoff(), 1), "client_name": f"notifier:{instance}:cmd"}
        self._cmd_pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=5, **cmd, **opts
        )
        # The pub/sub connection: one per process (the pool enforces it), no silent retries.
        sub = {"retry": Retry(NoBackoff(), 0), "client_name": f"notifier:{instance}:sub"}
        self._sub_pool = redis.ConnectionPool.from_url(url, max_connections=1, **sub, **opts)
        self._commands = redis.Redis(connection_pool=self._cmd_pool)
        self._sub_client = redis.Redis(connection_pool=self._sub_pool)

    def publish(self, messages: Sequence[Item]) -> bool:
        """PUBLISH in chunks of CHUNK messages; return False, never raise, when Redis is down."""
        if not messages:
            return True
        ok = False
        try:
            if len(messages) <= CHUNK:
                self._commands.publish(self.channel, encode_batch(messages))
            else:
                with self._commands.pipeline(transaction=False) as pipe:
                    for start in range(0, len(messages), CHUNK):
                        pipe.publish(self.channel, encode_batch(messages[start : start + CHUNK]))
                    pipe.execute()
            ok = True
        except _ERRORS as exc:
            self.publish_failures += 1
            log.warning("redis bus: publish of %d message(s) failed: %s", len(messages), exc)
        # Once started, the listener owns the state: a publish that timed out waiting for a
        # pooled connection must not mark a healthy subscription unavailable.
        if self._listener is None:
            self._available = ok
        return ok

    def publish_node_stats(self, instance: str, stats: dict[str, Any], ttl: int) -> None:
        """SET ``{prefix}:node:{instance}`` to the stats as JSON, expiring after ``ttl`` seconds."""
        payload = json.dumps({**stats, "instance": instance}, separators=(",", ":"))
        try:
            self._commands.set(f"{self.prefix}:node:{instance}", payload, ex=ttl)
        except _ERRORS as exc:
            log.debug("redis bus: node stats not shared: %s", exc)

    def cluster_stats(self) -> list[dict[str, Any]]:
        """Return every live process's stats (SCAN + MGET); [] when Redis is down."""
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + ":node:*"
        try:
            keys = sorted(self._commands.scan_iter(match=pattern, count=100))
            values = self._commands.mget(keys) if keys else []
        except _ERRORS as exc:
            log.debug("redis bus: cluster stats unavailable: %s", exc)
            return []
        stats = []
        for raw in filter(None, values):  # None: expired between SCAN and MGET
            with suppress(ValueError):
                item = json.loads(cast("bytes", raw))
                if isinstance(item, dict):
                    stats.append(item)
        return stats

    def publish_presence(self, instance: str, user_ids: Sequence[int], ttl: int) -> None:
        """Replace the set ``{prefix}:presence:{instance}`` by ``user_ids`` for ``ttl`` seconds."""
        key = f"{self.prefix}:presence:{instance}"
        try:
            with self._commands.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if user_ids:
                    pipe.sadd(key, *user_ids)
                    pipe.expire(key, ttl)
                pipe.execute()
        except _ERRORS as exc:
            log.debug("redis bus: presence not shared: %s", exc)

    def online(self, user_id: int) -> bool:
        """Return True for a user connected here or in any live process's presence set."""
        if self.hub.user_count(user_id):
            return True
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + ":presence:*"
        try:
            keys = list(self._commands.scan_iter(match=pattern, count=100))
            if not keys:
                return False
            with self._commands.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.sismember(key, str(user_id))
                return any(pipe.execute())
        except _ERRORS as exc:
            log.debug("redis bus: presence unavailable: %s", exc)
            return False

    def available(self) -> bool:
        """Return the last known state: subscribed (once started), else the last publish's."""
        return self._available
