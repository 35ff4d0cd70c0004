"""One sharded pub/sub connection to one cluster primary, and the greenlet that reads it.

The shard holds the per-user channels of the local users whose hash slot that primary
serves. It talks RESP on a bare redis-py ``Connection`` (no PubSub object, no silent
re-subscribe) and waits for data with ``gevent.socket.wait_read`` on the socket's file
descriptor (the process is monkey-patched: ClusterBroker.start() insists).

Acknowledgements: an SSUBSCRIBE that a stream waits for (its user's first local stream)
sets that waiter's event; any other acknowledgement (a re-subscription after the connection
came back, or one that arrived after its waiter gave up) asks the user's streams to replay
from the event log, so nothing published before the subscription took effect is missed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import gevent
import gevent.lock
from gevent.event import Event
from gevent.socket import wait_read
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.exceptions import AskError, ResponseError
from redis.retry import Retry

from notifier.bus.cluster_slots import ERRORS, Node

log = logging.getLogger(__name__)

WAIT = 1.0  # longest idle wait for data; also bounds how late a missing PONG is noticed
DRAIN = 100  # replies handled per wake-up before yielding to other greenlets
PING_PAYLOAD = b"notifier-liveness"


class Shard:
    """The pub/sub connection to ``node`` and its user channels (``users``)."""

    def __init__(
        self,
        node: Node,
        options: dict[str, Any],
        *,
        on_payload: Callable[[bytes], None],
        on_acknowledged: Callable[[bytes], None],
        on_moved: Callable[[bytes], None],
        on_lost: Callable[[Shard], None],
        channel: Callable[[int], str],
        client_name: str,
        backoff: tuple[float, float],
        ping_interval: float,
    ) -> None:
        self.node = node
        self.options = options
        self.users: set[int] = set()
        self.conn: Connection | None = None
        self.ever_connected = False
        self.failing = False  # the last connect attempt failed: nobody should wait for an ack
        self.reconnects = 0
        self._on_payload = on_payload
        self._on_acknowledged = on_acknowledged
        self._on_moved = on_moved
        self._on_lost = on_lost
        self._channel = channel
        self._client_name = client_name
        self._backoff = backoff
        self._ping_interval = ping_interval
        self._send_lock = gevent.lock.Semaphore()
        self._stop = Event()
        self._last_rx = 0.0
        self._ping_sent: float | None = None
        self._greenlet = gevent.spawn(self._run)

    @property
    def connected(self) -> bool:
        """Return True while the connection is up (SSUBSCRIBEs sent on it are live)."""
        return self.conn is not None

    def subscribe(self, user_id: int) -> None:
        """Track ``user_id`` here and SSUBSCRIBE its channel now if connected (else on connect)."""
        self.users.add(user_id)
        self._send("SSUBSCRIBE", self._channel(user_id))

    def unsubscribe(self, user_id: int) -> None:
        """Stop tracking ``user_id`` and SUNSUBSCRIBE its channel if connected."""
        self.users.discard(user_id)
        self._send("SUNSUBSCRIBE", self._channel(user_id))

    def stop(self) -> None:
        """End the reader and close the connection."""
        self._stop.set()
        self._greenlet.kill(block=True, timeout=2)
        self._drop()

    def _send(self, *args: Any) -> None:
        conn = self.conn
        if conn is None:
            return  # _connect subscribes every tracked user
        try:
            with self._send_lock:
                conn.send_command(*args)
        except ERRORS as exc:
            log.warning("redis cluster bus: send to %s failed: %s", self.node.name, exc)
            self._drop()  # the reader notices and reconnects

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(Exception):
                conn.disconnect()

    def _connect(self) -> None:
        # RESP2: pub/sub replies are plain arrays; under RESP3 redis-py would route them to
        # a push handler and block reading for a reply that never comes.
        conn = Connection(
            host=self.node.host,
            port=self.node.port,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            client_name=self._client_name,
            **self.options,
        )
        conn.connect()
        self._last_rx, self._ping_sent = time.monotonic(), None
        self.conn = conn
        for user_id in list(self.users):
            with self._send_lock:
                conn.send_command("SSUBSCRIBE", self._channel(user_id))

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            if self.conn is None:
                try:
                    self._connect()
                except ERRORS as exc:
                    self._drop()
                    self.failing = True
                    log.warning("redis cluster bus: %s unreachable: %s", self.node.name, exc)
                    if self._stop.wait(delay):
                        return
                    delay = min(delay * 2, self._backoff[1])
                    self._on_lost(self)  # the slot map may have moved on meanwhile
                    continue
                if self.ever_connected:
                    self.reconnects += 1
                    log.info("redis cluster bus: %s back; streams will replay", self.node.name)
                self.ever_connected, self.failing, delay = True, False, self._backoff[0]
            try:
                self._read()
            except ERRORS as exc:
                log.warning("redis cluster bus: lost %s (%s); reconnecting", self.node.name, exc)
                self._drop()
                self._on_lost(self)
                if self._stop.wait(self._backoff[0]):  # a flapping node must not spin us
                    return

    def _read(self) -> None:
        conn = self.conn
        if conn is None:
            return
        self._check_liveness(conn)
        if not conn.can_read(timeout=0):
            sock = conn._sock
            if sock is None:
                raise ConnectionError("socket closed")
            try:
                wait_read(sock.fileno(), timeout=WAIT)
            except TimeoutError:
                return
        handled = 0
        while handled < DRAIN and self.conn is conn and conn.can_read(timeout=0):
            try:
                reply = conn.read_response()
            except ResponseError as exc:  # an error reply; the connection itself is fine
                self._last_rx = time.monotonic()
                log.warning("redis cluster bus: %s answered %s", self.node.name, exc)
                if isinstance(exc, AskError):  # MOVED/ASK: our slot map is stale
                    self._on_moved(b"")
                continue
            self._handle(reply)
            handled += 1
        gevent.sleep(0)

    def _check_liveness(self, conn: Connection) -> None:
        now = time.monotonic()
        if self._ping_sent is not None:
            if now - self._ping_sent > self._ping_interval:
                raise ConnectionError(f"no PONG within {self._ping_interval:g}s")
        elif now - self._last_rx > self._ping_interval:
            with self._send_lock:
                conn.send_command("PING", PING_PAYLOAD)
            self._ping_sent = now

    def _handle(self, reply: Any) -> None:
        self._last_rx = time.monotonic()
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if kind == b"smessage":
            self._on_payload(reply[2])
        elif kind == b"ssubscribe":
            self._on_acknowledged(reply[1])
        elif kind == b"sunsubscribe":
            self._on_moved(reply[1])  # ours, or the server's notice that the slot moved
        elif kind == b"pong":
            self._ping_sent = None
