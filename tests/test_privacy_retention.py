"""Per-tenant notification retention (issue 13.5): the setting (API, page) and the prune loop."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from notifier.extensions import db
from notifier.models import Delivery, Event, Notification, Tenant, utcnow
from notifier.workers import prune_tick
from tests.conftest import AuthActions
from tests.factories import World, make_world, send

TENANT = "/api/v1/tenant"


def age(notification_id: int, days: int) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(created_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


def test_admins_set_retention_through_the_api(any_app: Flask) -> None:
    world = make_world()
    client = any_app.test_client()
    assert client.get(TENANT, headers=world.admin_h).get_json() == {
        "id": world.acme.id,
        "name": "acme",
        "retention_days": None,
    }
    resp = client.patch(TENANT, json={"retention_days": 30}, headers=world.admin_h)
    assert resp.status_code == 200 and resp.get_json()["retention_days"] == 30
    for bad in (0, -1, 36501, "30", True, 1.5):
        refused = client.patch(TENANT, json={"retention_days": bad}, headers=world.admin_h)
        assert refused.status_code == 422, bad
        assert set(refused.get_json()["error"]["fields"]) == {"retention_days"}
    named = client.patch(TENANT, json={"name": "x"}, headers=world.admin_h)
    assert named.get_json()["error"]["fields"] == {"name": "read-only"}
    member = client.patch(TENANT, json={"retention_days": 1}, headers=world.alice_h)
    assert member.status_code == 403
    db.session.expire_all()
    assert db.session.get(Tenant, world.acme.id).retention_days == 30
    assert db.session.get(Tenant, world.globex.id).retention_days is None
    cleared = client.patch(TENANT, json={"retention_days": None}, headers=world.admin_h)
    assert cleared.get_json()["retention_days"] is None


def test_the_prune_loop_deletes_old_notifications_of_tenants_with_retention(
    any_app: Flask,
) -> None:
    world = make_world()
    old, fresh = send(world.alice, "old"), send(world.alice, "fresh")
    old_other_tenant = send(world.carol, "carol's old")
    for nid in (old, old_other_tenant):
        age(nid, 10)
    db.session.add(
        Delivery(
            tenant_id=world.acme.id,
            user_id=world.alice.id,
            notification_id=old,
            channel="email",
            status="sent",
            payload={"title": "old"},
        )
    )
    db.session.get(Tenant, world.acme.id).retention_days = 7
    db.session.commit()

    assert prune_tick(any_app) >= 1
    db.session.expire_all()
    kept = set(db.session.scalars(select(Notification.id)))
    assert kept == {fresh, old_other_tenant}  # globex keeps everything: no retention set
    assert db.session.scalars(select(Delivery)).all() == []
    # The event log has its own retention (NOTIFIER_RETENTION_DAYS): untouched here.
    assert len(db.session.scalars(select(Event.id)).all()) == 3
    resp = any_app.test_client().get("/api/v1/notifications", headers=world.alice_h)
    assert [n["title"] for n in resp.get_json()["items"]] == ["fresh"]


def test_the_privacy_page_sets_retention(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    auth.login("admin@example.com")
    page = client.get("/admin/privacy")
    assert page.status_code == 200 and "Notification retention" in page.get_data(as_text=True)
    assert 'href="/admin/privacy"' in client.get("/admin").get_data(as_text=True)
    saved = client.post("/admin/privacy", data={"retention_days": "14"})
    assert saved.status_code == 302
    assert "14 days" in client.get("/admin/privacy").get_data(as_text=True)
    bad = client.post("/admin/privacy", data={"retention_days": "0"})
    assert bad.status_code == 422
    db.session.expire_all()
    assert db.session.get(Tenant, world.acme.id).retention_days == 14
    assert client.post("/admin/privacy", data={"retention_days": ""}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Tenant, world.acme.id).retention_days is None


def test_members_do_not_see_the_privacy_page_but_can_export(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    auth.login("alice@example.com")
    assert client.get("/admin/privacy").status_code == 404
    assert client.post("/admin/privacy", data={"retention_days": "1"}).status_code == 404
    prefs = client.get("/preferences").get_data(as_text=True)
    assert 'href="/api/v1/me/export"' in prefs and "Export my data" in prefs
    # The link works with the page's session cookie (a read).
    export = client.get("/api/v1/me/export")
    assert export.status_code == 200 and export.get_json()["account"]["email"] == world.alice.email
