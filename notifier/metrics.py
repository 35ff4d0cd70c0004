"""Count what the streams and the bus do: Prometheus metrics and the dashboard's live numbers.

Prometheus metrics live in the module-level :data:`REGISTRY` (not the client's global one), so
several apps in one test process never register a name twice; they are process-wide. Under
gunicorn they are also written to prometheus-client's multiprocess files, so a scrape of any
worker sums them over every worker (:mod:`notifier.metrics_export`). The dashboard numbers of
:func:`local_stats` are per hub (one per app) and cover the last 60 seconds, kept in
per-second buckets: adding is O(1) and reading sums 60 integers.

Everything here listens to the hub's blinker signals (connected, disconnected, broadcast);
streams report resumes and replayed events directly, and the bus counters (reconnects,
publish failures) are copied from the brokers into Prometheus counters by :func:`sync_bus`,
at every scrape and every node-stats tick (2 s, :func:`local_stats`): a worker that is not the
one scraped must have written its share to its own file too.
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
from notifier.timefmt import iso_epoch

WINDOW = 60  # seconds covered by the *_per_min / *_per_sec numbers and the latency percentiles
TOP_USERS = 20

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


def local_stats(app: Flask) -> dict[str, Any]:
    """Return this process's numbers for the admin dashboard (the keys are an interface)."""
    sync_bus()  # every worker runs this every 2 s (node stats): keeps its bus counters current
    st = state(app)
    hub, broker = st.hub, st.broker
    stats = hub_stats(hub)
    now = time.time()
    subs = hub.subscriptions()
    by_user = hub.by_user()
    top = sorted(by_user.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_USERS]
    p50, p99 = stats.percentiles(now)
    return {
        "instance": st.instance,
        "mode": broker.mode,
        "redis_available": broker.mode == "redis" and broker.available(),
        "connections": hub.total_count(),
        "users_online": len(by_user),
        "avg_connection_age": (
            round(sum(now - s.connected_at for s in subs) / len(subs), 1) if subs else 0.0
        ),
        "top_users": [{"user_id": uid, "connections": n} for uid, n in top],
        "tenants": by_tenant(subs, now),
        "connects_per_min": stats.connects.total(now),
        "disconnects_per_min": stats.disconnects.total(now),
        "resumes_per_min": stats.resumes.total(now),
        "broadcasts_per_sec": round(stats.broadcasts.total(now) / WINDOW, 2),
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
        "slow_drops": stats.slow_drops,
        "replayed_events": stats.replayed,
        "bus_reconnects": int(getattr(broker, "reconnects", 0)),
        "updated_at": iso_epoch(now),
    }


def by_tenant(subs: list[Subscription], now: float) -> dict[str, dict[str, Any]]:
    """Return the connection figures of local_stats per tenant id (a string: stats are JSON)."""
    groups: dict[str, list[Subscription]] = {}
    for sub in subs:
        groups.setdefault(str(sub.tenant_id), []).append(sub)
    out: dict[str, dict[str, Any]] = {}
    for tenant, group in groups.items():
        users: dict[int, int] = {}
        for sub in group:
            users[sub.user_id] = users.get(sub.user_id, 0) + 1
        top = sorted(users.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_USERS]
        out[tenant] = {
            "connections": len(group),
            "users_online": len(users),
            "avg_connection_age": round(sum(now - s.connected_at for s in group) / len(group), 1),
            "top_users": [{"user_id": uid, "connections": n} for uid, n in top],
        }
    return out


TENANT_KEYS = ("connections", "users_online", "avg_connection_age", "top_users")


def tenant_view(instances: list[dict[str, Any]], tenant_id: int) -> list[dict[str, Any]]:
    """Return the processes' stats with the connection figures of one tenant only.

    An admin's dashboard must not show other tenants' activity; operators read /metrics.
    """
    empty = {"connections": 0, "users_online": 0, "avg_connection_age": 0.0, "top_users": []}
    out = []
    for stats in instances:
        mine = (stats.get("tenants") or {}).get(str(tenant_id)) or empty
        scoped = {k: v for k, v in stats.items() if k != "tenants"}
        scoped.update({key: mine.get(key, empty[key]) for key in TENANT_KEYS})
        out.append(scoped)
    return out


def cluster_stats(app: Flask) -> list[dict[str, Any]]:
    """Return every live process's local_stats, this one fresh (Redis), or just this one."""
    mine = local_stats(app)
    broker = state(app).broker
    if broker.mode != "redis":
        return [mine]
    others = [s for s in broker.cluster_stats() if s.get("instance") != mine["instance"]]
    return sorted([mine, *others], key=lambda s: str(s.get("instance")))
