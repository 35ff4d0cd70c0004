"""Listen on the Redis bus channel: one pub/sub connection and one greenlet per process.

The listener half of :class:`~notifier.bus.redis.RedisBroker` (a mixin, so the broker keeps
one object and its tests one set of attributes): subscribe, read with a liveness PING, hand
every PUBLISH to the hub, and reconnect with backoff, flagging every stream for replay.

Greenlets: the listener is a gevent greenlet reading redis-py's sockets, so hub.deliver(),
replay requests and on_reconnect hooks run on the loop that owns the subscription queues.
That needs cooperative sockets: start() refuses a process that gevent has not monkey-patched
(app.py, gunicorn -k gevent and tests/conftest.py patch first), where one blocking read
would freeze every stream. Start the broker after forking (in the gunicorn worker).

Reconnects: redis-py's own pub/sub retry is off (it would re-subscribe silently), so every
lost connection surfaces here: back off ``backoff_base`` doubling to ``backoff_cap``
seconds, re-subscribe, then flag every subscription for replay. A PING unanswered for
``ping_interval`` seconds counts as lost (a silently dead peer). Needs Redis 6+ (RESP3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

import gevent
import redis
from gevent.event import Event
from redis.client import PubSub
from redis.exceptions import RedisError

from notifier.bus.base import decode_batch, require_patched
from notifier.bus.hub import Hub

log = logging.getLogger("notifier.bus.redis")  # one logger for the broker, as before the split

READ_TIMEOUT = 0.2  # one wait for data: how often the listener checks liveness and stop()
DRAIN = 100  # payloads read per wake-up before yielding to other greenlets
PING_PAYLOAD = "notifier-liveness"
ERRORS = (RedisError, OSError)  # redis' Connection/TimeoutError, and raw socket failures


def redact(url: str) -> str:
    """Return ``url`` with its password masked, for log and error messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class Listener:
    """Subscribe to ``channel`` and feed the hub; the broker sets the attributes below."""

    hub: Hub
    url: str
    channel: str
    backoff_base: float
    backoff_cap: float
    subscribe_timeout: float
    ping_interval: float
    reconnects: int
    skipped_payloads: int
    on_reconnect: list[Callable[[], None]]
    _available: bool
    _stop: Event
    _listener: gevent.Greenlet[[], None] | None
    _pubsub: PubSub | None
    _last_rx: float  # when data was last read
    _ping_sent: float | None  # when the PING in flight (if any) was sent
    _sub_client: redis.Redis
    _sub_pool: redis.ConnectionPool
    _cmd_pool: redis.BlockingConnectionPool

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
            except ERRORS as exc:
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"redis bus: no SUBSCRIBE acknowledgement for {self.channel!r} from "
                        f"{redact(self.url)} within {self.subscribe_timeout:g}s: {exc}"
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
                    log.warning("redis bus: reconnect to %s failed: %s", redact(self.url), exc)
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
