"""Prometheus metrics, /metrics access rules, and the dashboard's local_stats/cluster_stats."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from notifier import metrics, node_stats
from notifier.bus.base import Message
from notifier.extensions import db, state
from tests.conftest import make_app
from tests.factories import World, send
from tests.sse_client import Tab

KEYS = {
    "instance",
    "mode",
    "redis_available",
    "connections",
    "users_online",
    "avg_connection_age",
    "top_users",
    "connects_per_min",
    "disconnects_per_min",
    "resumes_per_min",
    "broadcasts_per_sec",
    "latency_p50_ms",
    "latency_p99_ms",
    "slow_drops",
    "replayed_events",
    "bus_reconnects",
    "updated_at",
    "tenants",
}


def scrape(client: FlaskClient, **kw: object) -> dict[str, float]:
    resp = client.get("/metrics", **kw)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
    return out


def test_metrics_for_loopback_or_admin_token_only(client: FlaskClient, world: World) -> None:
    scrape(client)  # the test client is 127.0.0.1
    remote = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    resp = client.get("/metrics", **remote)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    resp = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status_code == 403  # behind a proxy everything looks local
    scrape(client, headers=world.admin_h, **remote)
    assert client.get("/metrics", headers=world.alice_h, **remote).status_code == 403
    resp = client.get("/metrics", headers={"Authorization": "Bearer nope"}, **remote)
    assert resp.status_code == 401


def test_stream_and_bus_activity_is_counted(app: Flask, client: FlaskClient, world: World) -> None:
    before = scrape(client)
    send(world.alice, "zero")
    tab = Tab(client, headers={**world.alice_h, "Last-Event-ID": "0"})
    tab.read_until("stats")  # connected, then the replay of "zero" and fresh stats
    send(world.alice, "one")
    assert [e.event for e in tab.read()] == ["notification", "stats"]
    tab.close()
    after = scrape(client)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert delta("notifier_stream_connects_total") == 1
    assert delta("notifier_stream_disconnects_total{reason=closed}") == 1
    assert delta("notifier_stream_resumes_total") == 1
    assert delta("notifier_broadcasts_total") == 2  # delivered to the hub, listeners or not
    assert delta("notifier_fanout_latency_seconds_count") == 2
    assert delta("notifier_replayed_events_total") == 1
    assert "notifier_bus_reconnects_total" in after
    assert "notifier_bus_publish_failures_total" in after
    assert after["notifier_stream_connections"] == before["notifier_stream_connections"]


def test_local_stats_has_exactly_the_dashboard_keys(app: Flask, world: World) -> None:
    stats = node_stats.local_stats(app)
    assert set(stats) == KEYS
    assert stats["mode"] == "memory" and stats["redis_available"] is False
    assert stats["latency_p50_ms"] is None and stats["latency_p99_ms"] is None
    assert stats["updated_at"].endswith("Z")
    hub = state().hub
    subs = [hub.subscribe(world.alice.id, 1) for _ in range(2)] + [hub.subscribe(world.bob.id, 1)]
    hub.deliver([Message(world.alice.id, 1, 1, "notification", {}, published_at=0.0)])
    hub.unsubscribe(subs[0], "closed")
    stats = node_stats.local_stats(app)
    assert stats["connections"] == 2 and stats["users_online"] == 2
    assert stats["top_users"] == [
        {"user_id": world.alice.id, "connections": 1},
        {"user_id": world.bob.id, "connections": 1},
    ]
    # Per tenant too, so each admin's dashboard counts only their own tenant.
    assert stats["tenants"] == {
        "1": {
            **{k: stats[k] for k in ("connections", "users_online")},
            "avg_connection_age": stats["avg_connection_age"],
            "top_users": stats["top_users"],
        }
    }
    assert stats["connects_per_min"] == 3 and stats["disconnects_per_min"] == 1
    assert stats["broadcasts_per_sec"] == round(1 / 60, 2)
    assert stats["latency_p50_ms"] is not None and stats["latency_p50_ms"] > 0
    assert [s["instance"] for s in node_stats.cluster_stats(app)] == [state(app).instance]


def test_slow_drops_and_replays_are_counted_per_app(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'm.sqlite'}", NOTIFIER_QUEUE_SIZE=1)
    with app.app_context():
        hub = state().hub
        hub.subscribe(7, 1)
        hub.deliver([Message(7, 1, i, "notification", {}) for i in (1, 2)])
        metrics.record_replayed(hub, 5)
        stats = node_stats.local_stats(app)
        assert (stats["slow_drops"], stats["replayed_events"]) == (1, 5)
        db.engine.dispose()


def test_window_forgets_after_sixty_seconds() -> None:
    window = metrics.Window()
    window.add(2, now=1000.0)
    window.add(3, now=1030.5)
    assert window.total(now=1030.9) == 5
    assert window.total(now=1060.0) == 3  # the first bucket is 60 s old
    window.add(1, now=1060.0)  # reuses the bucket of second 1000
    assert window.total(now=1060.0) == 4


def test_percentiles_use_nearest_rank() -> None:
    stats = metrics.HubStats()
    for i in range(1, 101):
        stats.latency.append((1000.0, i / 1000))
    assert stats.percentiles(now=1001.0) == (50.0, 99.0)
    assert stats.percentiles(now=2000.0) == (None, None)
