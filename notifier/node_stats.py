"""The dashboard's live figures: this process's, per tenant, and every process's via the bus.

Each process publishes :func:`local_stats` every 2 s (the node-stats tick in workers.py); an
admin's dashboard reads them all through :func:`cluster_stats`, scoped to the admin's tenant by
:func:`tenant_view`. The counters behind them are kept by :mod:`notifier.metrics`.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from notifier.bus.hub import Subscription
from notifier.extensions import state
from notifier.metrics import WINDOW, hub_stats, sync_bus
from notifier.timefmt import iso_epoch

TOP_USERS = 20


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
