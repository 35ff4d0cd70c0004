"""REST API: admins list and cancel their tenant's scheduled sends (CONTRACT §11)."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import update

from notifier.extensions import db
from notifier.models import Notification, ScheduledNotification, utcnow
from notifier.service import schedule as schedule_svc
from notifier.service import scheduled
from notifier.service.serialize import iso
from tests.factories import World

URL = "/api/v1/scheduled"


def schedule(client: FlaskClient, world: World, title: str = "Later", **extra: object) -> int:
    when = iso(utcnow() + timedelta(hours=1))
    body = {"email": "alice@example.com", "type": "digest", "title": title, "send_at": when}
    resp = client.post("/api/v1/notifications", json={**body, **extra}, headers=world.admin_h)
    assert resp.status_code == 202, resp.get_json()
    return int(resp.get_json()["scheduled"]["id"])


def fail(sid: int) -> None:
    db.session.execute(
        update(ScheduledNotification)
        .where(ScheduledNotification.id == sid)
        .values(status="failed", error="boom", failed_at=utcnow())
    )
    db.session.commit()


def test_list_shows_pending_and_failed(client: FlaskClient, world: World) -> None:
    first = schedule(client, world, "One")
    second = schedule(client, world, "Two")
    fail(second)

    page = client.get(URL, headers=world.admin_h).get_json()

    assert [(i["id"], i["status"], i["title"]) for i in page["items"]] == [
        (first, "scheduled", "One"),
        (second, "failed", "Two"),
    ]
    assert page["items"][0]["recipients"] == 1 and page["items"][0]["send_at"].endswith("Z")
    assert page["items"][1]["error"] == "boom"
    assert page["next"] is None
    only_failed = client.get(URL, query_string={"status": "failed"}, headers=world.admin_h)
    assert [i["id"] for i in only_failed.get_json()["items"]] == [second]


def test_pages_follow_next(client: FlaskClient, world: World) -> None:
    ids = [schedule(client, world, f"n{i}") for i in range(3)]
    page = client.get(URL, query_string={"limit": 2}, headers=world.admin_h).get_json()
    assert [i["id"] for i in page["items"]] == ids[:2]
    rest = client.get(URL, query_string={"after": page["next"]}, headers=world.admin_h)
    assert [i["id"] for i in rest.get_json()["items"]] == ids[2:]


def test_cancel_stops_the_send(client: FlaskClient, world: World) -> None:
    sid = schedule(client, world)

    assert client.delete(f"{URL}/{sid}", headers=world.admin_h).status_code == 204

    assert client.get(URL, headers=world.admin_h).get_json()["items"] == []
    db.session.execute(update(ScheduledNotification).values(send_at=utcnow()))
    db.session.commit()
    assert schedule_svc.release_due() == 0
    assert db.session.query(Notification).count() == 0
    again = client.delete(f"{URL}/{sid}", headers=world.admin_h)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"


def test_a_sent_one_cannot_be_cancelled(client: FlaskClient, world: World) -> None:
    sid = schedule(client, world)
    db.session.execute(update(ScheduledNotification).values(send_at=utcnow()))
    db.session.commit()
    assert schedule_svc.release_due() == 1
    resp = client.delete(f"{URL}/{sid}", headers=world.admin_h)
    assert resp.status_code == 409
    assert "sent" in resp.get_json()["error"]["message"]


def test_other_tenants_and_members(client: FlaskClient, world: World) -> None:
    sid = schedule(client, world)
    assert client.get(URL, headers=world.carol_h).get_json()["items"] == []
    resp = client.delete(f"{URL}/{sid}", headers=world.carol_h)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert client.get(URL, headers=world.alice_h).status_code == 403
    assert client.delete(f"{URL}/{sid}", headers=world.alice_h).status_code == 403
    assert client.delete(f"{URL}/99999999999999999999", headers=world.admin_h).status_code == 404
    assert len(client.get(URL, headers=world.admin_h).get_json()["items"]) == 1


def test_bad_query_is_4xx(client: FlaskClient, world: World) -> None:
    bad = client.get(URL, query_string={"status": "sent"}, headers=world.admin_h)
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]
    cursor = client.get(URL, query_string={"after": "x"}, headers=world.admin_h)
    assert cursor.status_code == 400 and cursor.get_json()["error"]["code"] == "bad_cursor"


def test_a_failed_one_can_be_retried_or_dismissed(client: FlaskClient, world: World) -> None:
    retried, dismissed = schedule(client, world, "R"), schedule(client, world, "D")
    fail(retried)
    fail(dismissed)

    scheduled.retry(world.acme.id, retried)
    scheduled.dismiss(world.acme.id, dismissed)

    items = client.get(URL, headers=world.admin_h).get_json()["items"]
    assert [(i["id"], i["status"], i["error"]) for i in items] == [(retried, "scheduled", None)]
    assert schedule_svc.release_due() == 1
    assert [n.title for n in db.session.query(Notification)] == ["R"]
