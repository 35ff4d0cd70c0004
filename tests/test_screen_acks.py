"""Time to screen: the page's beacon, the per-tenant histogram and the dashboard's p50/p99."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from notifier.extensions import db
from notifier.metrics import REGISTRY
from notifier.models import Notification, ScreenAck, utcnow
from tests.conftest import AuthActions
from tests.factories import World, send

SAME = {"Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}


def beacon(client: FlaskClient, acks: object, headers: dict[str, str] | None = None):
    return client.post("/screen-acks", data=json.dumps({"acks": acks}), headers=headers or SAME)


def samples(tenant_id: int) -> float:
    return (
        REGISTRY.get_sample_value(
            "notifier_time_to_screen_seconds_count", {"tenant": str(tenant_id)}
        )
        or 0.0
    )


def created_ago(nid: int, ms: int) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.id == nid)
        .values(created_at=utcnow() - timedelta(milliseconds=ms))
    )
    db.session.commit()


def test_acks_record_latency_once_per_item_and_feed_the_histogram(
    app: Flask, world: World, client: FlaskClient, auth: AuthActions
) -> None:
    nid, other = send(world.alice, "Live one"), send(world.bob, "Bob's")
    created_ago(nid, 400)
    before = samples(world.acme.id)
    auth.login()

    assert beacon(client, [{"id": nid, "age": 150}, {"id": other, "age": 5}]).status_code == 204
    assert beacon(client, [{"id": nid, "age": 10}]).status_code == 204  # a second tab

    [row] = db.session.query(ScreenAck).all()
    assert row.notification_id == nid and row.user_id == world.alice.id
    assert 200 <= row.latency_ms <= 400  # created 400 ms ago, painted 150 ms before the beacon
    assert samples(world.acme.id) == before + 1
    metrics = client.get("/metrics").text
    assert f'notifier_time_to_screen_seconds_count{{tenant="{world.acme.id}"}}' in metrics


def test_cross_site_and_malformed_beacons_are_refused(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    nid = send(world.alice, "Live one")
    auth.login()
    cross = {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}
    assert beacon(client, [{"id": nid, "age": 1}], cross).status_code == 403
    evil = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    assert beacon(client, [{"id": nid, "age": 1}], evil).status_code == 403
    assert (
        beacon(client, [{"id": nid, "age": 1}], {"Origin": "http://localhost"}).status_code == 204
    )
    assert beacon(client, [{"id": "x", "age": 1}]).status_code == 400
    assert beacon(client, [{"id": nid, "age": -1}]).status_code == 400
    assert beacon(client, [{"id": nid, "age": 1}] * 101).status_code == 400
    assert client.post("/screen-acks", data="{", headers=SAME).status_code == 400
    assert db.session.query(ScreenAck).count() == 1


def test_beacon_needs_a_session(world: World, client: FlaskClient) -> None:
    nid = send(world.alice, "Live one")
    resp = beacon(client, [{"id": nid, "age": 1}])
    assert resp.status_code in (302, 401)
    assert db.session.query(ScreenAck).count() == 0


def test_dashboard_shows_p50_and_p99_of_the_tenant(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    now = utcnow()
    for i, ms in enumerate([40, 50, 60, 70, 900]):
        nid = send(world.alice, f"n{i}")
        db.session.add(
            ScreenAck(
                tenant_id=world.acme.id,
                user_id=world.alice.id,
                notification_id=nid,
                latency_ms=ms,
                created_at=now,
            )
        )
    nid = send(world.carol, "globex")
    db.session.add(
        ScreenAck(
            tenant_id=world.globex.id,
            user_id=world.carol.id,
            notification_id=nid,
            latency_ms=5,
            created_at=now,
        )
    )
    db.session.commit()
    auth.login("admin@example.com")
    html = client.get("/admin/panels", headers={"HX-Request": "true"}).text
    assert '<dd id="tts-p50">60 ms</dd>' in html
    assert '<dd id="tts-p99">900 ms</dd>' in html
    assert '<dd id="tts-count">5</dd>' in html
