"""Count what the streams and the bus do: Prometheus metrics and the dashboard's live numbers.

Prometheus metrics live in the module-level :data:`REGISTRY` (not the client's global one), so
several apps in one test process never register a name twice; they are process-wide. Under
gunicorn they are also written to prometheus-client's multiprocess files, so a scrape of any
worker sums them over every worker (:mod:`notifier.metrics_export`). The dashboard numbers of
:func:`local_stats` are per hub (one per app) and cover the last 60 seconds, kept in
per-second buckets: adding is O(1) and reading sums 60 integers; :mod:`notifier.node_stats`
turns them into the dashboard's per-process and per-tenant figures.

Everything here listens to the hub's blinker signals (connected, disconnected, broadcast);
streams report resumes and replayed events directly, and the bus counters (reconnects,
publish failures) are copied from the brokers into Prometheus counters by :func:`sync_bus`,
at every scrape and every node-stats tick (2 s, :func:`notifier.node_stats.local_stats`): a
worker that is not the one scraped must have written its share to its own file too.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import time
import weakref
from collections import deque
from typing import Any

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from notifier.bus.base import Broker, Item
from notifier.bus.base import deliveries as bus_deliveries
from notifier.bus.hub import Hub, Subscription, broadcast, connected, disconnected
from notifier.extensions import state

WINDOW = 60  # seconds covered by the *_per_min / *_per_sec numbers and the latency percentiles

# No *_created samples: multiprocess mode cannot export them, so one process answers alike.
disable_created_metrics()
REGISTRY = CollectorRegistry()
CONNECTIONS = Gauge(
    "notifier_stream_connections",
    "Open stream connections (summed over the live workers)",
    registry=REGISTRY,
    multiprocess_mode="livesum",  # a dead worker's streams are gone: drop its share
)
CONNECTS = Counter("notifier_stream_connects", "Stream connections opened", registry=REGISTRY)
DISCONNECTS = Counter(
    "notifier_stream_disconnects", "Stream connections closed", ["reason"], registry=REGISTRY
)
RESUMES = Counter(
    "notifier_stream_resumes", "Streams opened with a usable cursor", registry=REGISTRY
)
BROADCASTS = Counter("notifier_broadcasts", "Bus messages fanned out to the hub", registry=REGISTRY)
FANOUT_LATENCY = Histogram(
    "notifier_fanout_latency_seconds",
    "Seconds from publish to queued on the subscriptions of this process",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
SLOW_DROPS = Counter(
    "notifier_slow_client_drops", "Streams dropped because their queue was full", registry=REGISTRY
)
REPLAYED = Counter(
    "notifier_replayed_events",
    "Events written from the event log on resume or gap",
    registry=REGISTRY,
)


def process_identity(prefix: str | None = None) -> str:
    """Return a name no other process (or app) shares: ``prefix:pid:random``.

    ``prefix`` is NOTIFIER_INSTANCE, else the host name. Every gunicorn worker of a host reads
    the same environment, so a configured name alone made them overwrite each other's cluster
    stats key; the pid tells workers apart and the random part tells apart two apps in one
    process (tests) and a pid reused after a restart while the old key still lives.
    """
    return f"{prefix or socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Window:
    """Count events over the last WINDOW seconds in per-second buckets."""

    __slots__ = ("counts", "stamps")

    def __init__(self) -> None:
        self.stamps = [0] * WINDOW
        self.counts = [0] * WINDOW

    def add(self, n: int = 1, now: float | None = None) -> None:
        """Count ``n`` events at ``now``."""
        sec = int(time.time() if now is None else now)
        i = sec % WINDOW
        if self.stamps[i] != sec:  # the bucket holds an older second: start it over
            self.stamps[i], self.counts[i] = sec, 0
        self.counts[i] += n

    def total(self, now: float | None = None) -> int:
        """Return the events counted in the last WINDOW seconds."""
        sec = int(time.time() if now is None else now)
        return sum(c for s, c in zip(self.stamps, self.counts, strict=True) if sec - s < WINDOW)


class HubStats:
    """The rolling numbers of one hub."""

    def __init__(self) -> None:
        self.connects = Window()
        self.disconnects = Window()
        self.resumes = Window()
        self.broadcasts = Window()
        self.latency: deque[tuple[float, float]] = deque(maxlen=4096)  # (when, seconds)
        self.slow_drops = 0
        self.replayed = 0

    def percentiles(self, now: float | None = None) -> tuple[float | None, float | None]:
        """Return the p50 and p99 fan-out latency of the window in milliseconds."""
        cutoff = (time.time() if now is None else now) - WINDOW
        values = sorted(v for t, v in self.latency if t >= cutoff)
        if not values:
            return None, None

        def rank(q: float) -> float:
            return round(values[max(0, math.ceil(q * len(values)) - 1)] * 1000, 2)

        return rank(0.50), rank(0.99)


_hubs: weakref.WeakKeyDictionary[Hub, HubStats] = weakref.WeakKeyDictionary()
_brokers: weakref.WeakSet[Broker] = weakref.WeakSet()


def hub_stats(hub: Hub) -> HubStats:
    """Return the rolling numbers of ``hub``, creating them on first use."""
    stats = _hubs.get(hub)
    if stats is None:
        stats = _hubs[hub] = HubStats()
    return stats


def init_app(app: Flask) -> None:
    """Watch the app's broker for the bus counters (create_app calls it)."""
    _brokers.add(state(app).broker)
    hub_stats(state(app).hub)


@connected.connect
def _on_connected(hub: Hub, subscription: Subscription, **_: Any) -> None:
    CONNECTIONS.inc()
    CONNECTS.inc()
    hub_stats(hub).connects.add()


@disconnected.connect
def _on_disconnected(hub: Hub, subscription: Subscription, reason: str = "", **_: Any) -> None:
    CONNECTIONS.dec()
    DISCONNECTS.labels(reason or "unknown").inc()
    stats = hub_stats(hub)
    stats.disconnects.add()
    if reason == "overflow":
        SLOW_DROPS.inc()
        stats.slow_drops += 1


@broadcast.connect
def _on_broadcast(
    hub: Hub, messages: list[Item], deliveries: int = 0, latency: float = 0.0, **_: Any
) -> None:
    count = bus_deliveries(messages)  # a tenant fan-out counts each of its recipients
    BROADCASTS.inc(count)
    FANOUT_LATENCY.observe(max(latency, 0.0))
    stats = hub_stats(hub)
    now = time.time()
    stats.broadcasts.add(count, now)
    stats.latency.append((now, max(latency, 0.0)))


def record_resume(hub: Hub) -> None:
    """Count a stream that opened with a usable cursor."""
    RESUMES.inc()
    hub_stats(hub).resumes.add()


def record_replayed(hub: Hub, count: int) -> None:
    """Count events a stream wrote from the event log."""
    if count:
        REPLAYED.inc(count)
        hub_stats(hub).replayed += count


BUS_DEGRADED = Gauge(
    "notifier_bus_degraded",
    "1 while this process's Redis bus is down (the API still commits; /readyz stays 200)",
    registry=REGISTRY,
    multiprocess_mode="livemax",  # any live worker that lost Redis
)
BUS_RECONNECTS = Counter(
    "notifier_bus_reconnects", "Bus re-subscriptions after a lost connection", registry=REGISTRY
)
BUS_PUBLISH_FAILURES = Counter(
    "notifier_bus_publish_failures",
    "Publishes that failed (the log still has them)",
    registry=REGISTRY,
)
_bus_seen: weakref.WeakKeyDictionary[Broker, tuple[int, int]] = weakref.WeakKeyDictionary()


def sync_bus() -> None:
    """Add what the brokers of this process counted since the last call to the bus counters."""
    for broker in list(_brokers):
        now = (int(getattr(broker, "reconnects", 0)), int(getattr(broker, "publish_failures", 0)))
        last = _bus_seen.get(broker, (0, 0))
        # max(0, …): a broker's own count never shrinks, but never let a counter go down.
        BUS_RECONNECTS.inc(max(0, now[0] - last[0]))
        BUS_PUBLISH_FAILURES.inc(max(0, now[1] - last[1]))
        _bus_seen[broker] = now
    BUS_DEGRADED.set(int(any(bus_degraded(b) for b in list(_brokers))))


def bus_degraded(broker: Broker) -> bool:
    """Return True for a started Redis bus that lost its connection (stopped ones don't count)."""
    return (
        broker.mode == "redis"
        and bool(getattr(broker, "running", False))
        and not broker.available()
    )
