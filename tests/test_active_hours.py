"""Activity recorded by real reads, clicks and stream connects; active hours; best_send_time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import utcnow
from notifier.models_flows import ActivityHour
from notifier.service import active_hours, activity, privacy
from notifier.service.active_hours import best_send_time
from notifier.workers import prune_tick
from tests.factories import World, send
from tests.fixtures_live import LiveServer, http_json
from tests.sse_client import Tab, bearer, token_for
from tests.ws_client import WsClient

H = timedelta(hours=1)


def counts(user_id: int) -> tuple[int, int, int]:
    """Return (reads, clicks, connects) summed over the user's rows."""
    rows = db.session.execute(
        select(ActivityHour.reads, ActivityHour.clicks, ActivityHour.connects).where(
            ActivityHour.user_id == user_id
        )
    ).all()
    db.session.rollback()
    return (sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows))


def test_reads_and_clicks_over_the_api_are_recorded_in_the_current_hour(
    client: FlaskClient, world: World
) -> None:
    a, b, _ = (send(world.alice, f"n{i}") for i in range(3))
    assert client.post(f"/api/v1/notifications/{a}/read", headers=world.alice_h).status_code == 200
    assert counts(world.alice.id) == (1, 0, 0)
    # Reading it again changes nothing, so it is no new act of reading.
    client.post(f"/api/v1/notifications/{a}/read", headers=world.alice_h)
    assert counts(world.alice.id) == (1, 0, 0)
    # A read-all of two is one act; marking seen is not reading.
    client.post(f"/api/v1/notifications/{b}/seen", headers=world.alice_h)
    assert counts(world.alice.id) == (1, 0, 0)
    assert client.post("/api/v1/notifications/read-all", headers=world.alice_h).status_code == 200
    assert counts(world.alice.id) == (2, 0, 0)
    # An action click is a click (and reads the item when it was unread).
    admin = world.admin_h
    body = {"user_id": world.alice.id, "type": "deploy", "title": "v3"}
    actions = [{"id": "open", "label": "Open", "url": "/d/3"}]
    nid = client.post("/api/v1/notifications", json={**body, "actions": actions}, headers=admin)
    nid_ = nid.get_json()["notification"]["id"]
    resp = client.post(f"/api/v1/notifications/{nid_}/actions/open", headers=world.alice_h)
    assert resp.status_code == 200
    assert counts(world.alice.id) == (3, 1, 0)
    [row] = db.session.scalars(select(ActivityHour).where(ActivityHour.user_id == world.alice.id))
    now = utcnow()
    assert (row.day, row.hour) == (now.date(), now.hour)
    assert counts(world.bob.id) == (0, 0, 0)


@pytest.fixture
def tabs() -> Iterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.close()


def test_an_sse_connect_counts_once_per_hour(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    for _ in range(3):  # three tabs (or reconnects) in one hour: connected in that hour, once
        tab = Tab(client, "/api/v1/notifications/stream", headers=world.alice_h)
        tabs.append(tab)
        assert tab.status == 200
        tab.read()
    assert counts(world.alice.id) == (0, 0, 1)
    bob = Tab(client, "/api/v1/notifications/stream", headers=world.bob_h)
    tabs.append(bob)
    bob.read()
    assert counts(world.bob.id) == (0, 0, 1)


def test_a_websocket_connect_and_read_are_learned_on_a_real_server(
    live_server: LiveServer,
) -> None:
    token = token_for(live_server, "alice@example.com")
    admin = token_for(live_server, "admin@example.com")
    url = live_server.url + "/api/v1/me/active-hours"
    body = {"email": "alice@example.com", "type": "deploy", "title": "v4", "channels": ["in_app"]}
    status, sent = http_json(
        "POST", live_server.url + "/api/v1/notifications", body, headers=bearer(admin)
    )
    assert status == 201
    status, before = http_json("GET", url, headers=bearer(token))
    assert status == 200
    ws = WsClient(live_server.url, bearer(token)).connect()
    try:
        assert ws.until("connected")
        status, connected = http_json("GET", url, headers=bearer(token))
        ws.send({"op": "read", "ids": [sent["notification"]["id"]]})
        assert ws.until("update")["data"]["action"] == "read"
        status, read = http_json("GET", url, headers=bearer(token))
    finally:
        ws.close()
    assert connected["samples"] == before["samples"] + 1
    added = [x - y for x, y in zip(connected["hours"], before["hours"], strict=True)]
    [grown] = [d for d in added if d > 1e-9]  # one hour, by one connect decayed < 1 h
    assert active_hours.W_CONNECT * 0.5 ** (1 / 24 / 7) - 1e-4 <= grown <= active_hours.W_CONNECT
    assert read["samples"] == connected["samples"] + 1  # the read op is a read


def _history(user_id: int, utc_hour: int, days: int, now: datetime, reads: int = 2) -> None:
    """Record ``reads`` reads at ``utc_hour`` on each of the ``days`` days before ``now``."""
    for d in range(1, days + 1):
        at = (now - timedelta(days=d)).replace(hour=utc_hour, minute=10)
        activity.record(user_id, reads=reads, at=at)
    db.session.commit()


def test_the_histogram_is_in_the_users_zone_and_decays(
    app: Flask, client: FlaskClient, world: World
) -> None:
    world.alice.timezone = "Asia/Tokyo"  # UTC+9, no DST
    db.session.commit()
    now = utcnow()
    _history(world.alice.id, 23, 5, now)  # 23:00 UTC = 08:00 in Tokyo
    old = now - timedelta(days=40)
    activity.record(world.alice.id, reads=50, at=old)  # outside the 30 days
    db.session.commit()
    doc = client.get("/api/v1/me/active-hours", headers=world.alice_h).get_json()
    assert doc["timezone"] == "Asia/Tokyo"
    assert doc["samples"] == 10
    hours = doc["hours"]
    assert len(hours) == 24 and max(range(24), key=hours.__getitem__) == 8
    assert [h for i, h in enumerate(hours) if i != 8] == [0.0] * 23
    # Five days at 2 reads, each halved per 7 days of age (ages 1–5 days, give or take the hour).
    assert 2 * sum(0.5 ** ((d + 1) / 7) for d in range(5)) < hours[8] <= 10
    assert client.get("/api/v1/me/active-hours").status_code == 401
    # The worker's prune loop forgets what is older than 30 days.
    assert prune_tick(app) >= 1
    assert counts(world.alice.id)[0] == 10
    assert activity.prune(now) == 0


def test_best_send_time_waits_for_the_users_hour_within_the_horizon(world: World) -> None:
    uid = world.alice.id
    now = datetime(2026, 6, 10, 9, 20)  # UTC; New York (EDT, UTC-4): 05:20
    zone = "America/New_York"
    # Too little known: None (send now).
    activity.record(uid, reads=4, at=now - timedelta(days=1, hours=-5))
    db.session.commit()
    assert best_send_time(uid, zone, now, 12 * H) is None
    # Reads at 14:00 UTC (10:00 in New York) most days, a few at 21:00 UTC (17:00).
    _history(uid, 14, 10, now, reads=3)
    _history(uid, 21, 3, now, reads=1)
    assert best_send_time(uid, zone, now, 12 * H) == datetime(2026, 6, 10, 14, 0)
    # 10:00 is outside a 3 h horizon: the best within it is the current hour (nothing later).
    assert best_send_time(uid, zone, now, 3 * H) == now
    # Within 12 h of 15:30 UTC the 10:00 hour has passed: 17:00 local (21:00 UTC) it is.
    later = now.replace(hour=15, minute=30)
    assert best_send_time(uid, zone, later, 12 * H) == datetime(2026, 6, 10, 21, 0)
    # In the best hour itself: now.
    inside = now.replace(hour=14, minute=40)
    assert best_send_time(uid, zone, inside, 12 * H) == inside
    # Another user knows nothing.
    assert best_send_time(world.bob.id, zone, now, 12 * H) is None


def test_best_time_is_pure_and_breaks_ties_toward_now() -> None:
    zone = active_hours.zone_of("UTC")
    hours = [0.0] * 24
    hours[9] = hours[11] = 5.0
    now = datetime(2026, 1, 5, 7, 59)
    assert active_hours.best_time(hours, 10, zone, now, 12 * H) == datetime(2026, 1, 5, 9)
    assert active_hours.best_time(hours, 10, zone, now.replace(hour=9), 12 * H) == now.replace(
        hour=9
    )
    assert active_hours.best_time(hours, 4, zone, now, 12 * H) is None
    assert active_hours.zone_of("Not/AZone").key == "UTC"
    rows: list[Any] = [(date(2026, 1, 4), 9, 1, 1, 1)]
    weights, samples = active_hours.histogram(rows, zone, now)
    assert samples == 3 and weights[9] == pytest.approx(3.5 * 0.5 ** ((22 + 59 / 60) / 24 / 7))


def test_activity_is_exported_and_erased_with_the_user(app: Flask, world: World) -> None:
    activity.record(world.alice.id, reads=2, clicks=1)
    db.session.commit()
    doc = privacy.export_user(world.alice)
    [row] = doc["other"]["activity_hours"]
    assert (row["reads"], row["clicks"], row["connects"]) == (2, 1, 0)
    uid = world.alice.id
    privacy.erase_user(world.alice, "test")
    assert counts(uid) == (0, 0, 0)
