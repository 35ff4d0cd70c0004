"""Carry bus messages between processes and hosts over one Redis pub/sub channel.

Each process holds ONE pub/sub connection and ONE listener greenlet however many streams it
serves. Publishers never deliver locally: their own listener receives their PUBLISH like
every other process's does (one code path, one order).

Greenlets: the listener is a gevent greenlet reading redis-py's sockets, so hub.deliver(),
replay requests and on_reconnect hooks run on the loop that owns the subscription queues.
That needs cooperative sockets: start() refuses a process that gevent has not monkey-patched
(app.py, gunicorn -k gevent and tests/conftest.py patch first), where one blocking read
would freeze every stream. publish() runs in the caller's greenlet. Start the broker after
forking (in the gunicorn worker), never before.

Reconnects: redis-py's own pub/sub retry is off (it would re-subscribe silently), so every
lost connection surfaces here: back off ``backoff_base`` doubling to ``backoff_cap``
seconds, re-subscribe, then flag every subscription for replay. A PING unanswered for
``ping_interval`` seconds counts as lost (a silently dead peer). Needs Redis 6+ (RESP3).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import gevent
import redis
from gevent.event import Event
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.exceptions import RedisError
from redis.retry import Retry

from notifier.bus.base import Broker, Item, decode_batch, encode_batch, require_patched
from notifier.bus.hub import Hub

log = logging.getLogger(__name__)

CHUNK = 500  # messages per PUBLISH: keeps one payload, and one listener wake-up, bounded
READ_TIMEOUT = 0.2  # one wait for data: how often the listener checks liveness and stop()
DRAIN = 100  # payloads read per wake-up before yielding to other greenlets
PING_PAYLOAD = "notifier-liveness"
_ERRORS = (RedisError, OSError)  # redis' Connection/TimeoutError, and raw socket failures


def _redact(url: str) -> str:
    """Return ``url`` with its password masked, for log and error messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class RedisBroker(Broker):
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
        self._listener: gevent.Greenlet[[], None] | None = None
        self._pubsub: PubSub | None = None
        # Liveness: when data was last read, and when the PING in flight (if any) was sent.
        self._last_rx: float = 0.0
        self._ping_sent: float | None = None
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

    @property
    def running(self) -> bool:
        """Return True while the listener greenlet is alive."""
        return self._listener is not None and not self._listener.dead

    def start(self) -> None:
        """Subscribe, await the acknowledgement (else RuntimeError), then spawn the listener.

        Raises RuntimeError in a process whose sockets gevent has not patched.
        """
        if self._listener is not None:
            return
        require_patched("redis bus")
        self._stop.clear()
        deadline = time.monotonic() + self.subscribe_timeout
        while True:
            try:
                self._pubsub = self._subscribe(deadline)
                break
            except _ERRORS as exc:
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"redis bus: no SUBSCRIBE acknowledgement for {self.channel!r} from "
                        f"{_redact(self.url)} within {self.subscribe_timeout:g}s: {exc}"
                    ) from exc
                gevent.sleep(min(0.25, self.subscribe_timeout / 10))  # Redis may be starting
        self._available = True
        self._listener = gevent.spawn(self._listen)

    def stop(self) -> None:
        """End the listener promptly and close every connection; safe to call twice."""
        self._stop.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.kill(block=True, timeout=2)
        if self._pubsub is not None:
            self._close(self._pubsub)
        self._available = False
        self._cmd_pool.disconnect()
        self._sub_pool.disconnect()

    def _subscribe(self, deadline: float) -> PubSub:
        """SUBSCRIBE on a fresh pub/sub connection and wait for the acknowledgement."""
        pubsub: PubSub = self._sub_client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            while (left := deadline - time.monotonic()) > 0:
                reply = pubsub.get_message(timeout=min(left, READ_TIMEOUT))
                if reply is not None and reply["type"] == "subscribe":
                    self._last_rx, self._ping_sent = time.monotonic(), None
                    return pubsub
            raise TimeoutError("no acknowledgement")
        except BaseException:
            pubsub.close()
            raise

    def _read(self, pubsub: PubSub) -> list[bytes]:
        """Wait up to READ_TIMEOUT for payloads (cooperatively) and drain what is buffered."""
        now = time.monotonic()
        if self._ping_sent is not None:
            if now - self._ping_sent > self.ping_interval:
                raise redis.ConnectionError(f"no PONG within {self.ping_interval:g}s")
        elif now - self._last_rx > self.ping_interval:
            pubsub.ping(PING_PAYLOAD)
            self._ping_sent = now
        payloads: list[bytes] = []
        reply = pubsub.get_message(timeout=READ_TIMEOUT)
        while reply is not None:
            self._last_rx = time.monotonic()
            if reply["type"] == "message":
                payloads.append(reply["data"])
            elif reply["type"] == "pong":
                self._ping_sent = None
            if len(payloads) >= DRAIN:
                break
            reply = pubsub.get_message(timeout=0.0)
        return payloads

    def _listen(self) -> None:
        """Read, deliver and reconnect until stop(); survives every error it meets."""
        delay = self.backoff_base
        while not self._stop.is_set():
            pubsub = self._pubsub
            if pubsub is None:
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.backoff_cap)
                try:
                    deadline = time.monotonic() + self.subscribe_timeout
                    pubsub = self._subscribe(deadline)
                except Exception as exc:
                    log.warning("redis bus: reconnect to %s failed: %s", _redact(self.url), exc)
                    continue
                self._pubsub, delay = pubsub, self.backoff_base
                self.reconnects += 1
                self._available = True
                log.info("redis bus: re-subscribed to %s; streams will replay", self.channel)
                self.hub.request_replay_all()  # after SUBSCRIBE, so no gap opens behind it
                for hook in list(self.on_reconnect):
                    try:
                        hook()
                    except Exception:
                        log.exception("redis bus: on_reconnect hook %r failed", hook)
            try:
                payloads = self._read(pubsub)
            except Exception as exc:
                log.warning("redis bus: pub/sub connection lost (%s); reconnecting", exc)
                self._pubsub = None
                self._available = False
                self._close(pubsub)
                continue
            for payload in payloads:
                self._handle(payload)

    def _handle(self, payload: bytes) -> None:
        """Decode one PUBLISH and deliver it; garbage is logged and skipped."""
        try:
            batch = decode_batch(payload)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.skipped_payloads += 1
            log.warning("redis bus: skipped an undecodable payload on %s: %r", self.channel, exc)
            return
        try:
            self.hub.deliver(batch)
        except Exception:
            log.exception("redis bus: hub.deliver failed; streams will replay the gap")

    def _close(self, pubsub: PubSub) -> None:
        if self._pubsub is pubsub:
            self._pubsub = None
        with suppress(Exception):  # closing a dead connection may complain; it is gone anyway
            pubsub.close()
