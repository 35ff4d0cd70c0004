"""Privacy (CONTRACT §11, issue 13.5): export, erase (self, admin, CLI), audit; both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Column, ForeignKey, Integer, String, Table, func, select

from notifier.extensions import db
from notifier.models import (
    AuditEntry,
    Delivery,
    Notification,
    PushSubscription,
    ScheduledNotification,
    User,
    utcnow,
)
from notifier.service import accounts, preferences, privacy, sessions
from tests.factories import PASSWORD, World, make_world, send

EXPORT = "/api/v1/me/export"
ME = "/api/v1/me"


def user_tables() -> list[tuple[Table, list[Any]]]:
    """Every table of the metadata with a column pointing at a user, and those columns."""
    found = []
    for table in db.metadata.sorted_tables:
        cols = [
            c
            for c in table.columns
            if c.name == "user_id" or any(fk.column.table.name == "users" for fk in c.foreign_keys)
        ]
        if table.name == "users":
            cols.append(table.c.id)
        if cols:
            found.append((table, cols))
    return found


def rows_about(uid: int) -> dict[str, int]:
    """Count, per table, the rows whose user columns name ``uid`` (the erase test's oracle)."""
    out = {}
    for table, cols in user_tables():
        for col in cols:
            n = db.session.scalar(select(func.count()).select_from(table).where(col == uid))
            if n:
                out[f"{table.name}.{col.name}"] = int(n)
    return out


@pytest.fixture
def extra_tables(any_app: Flask) -> Iterator[tuple[Table, Table]]:
    """Two tables no privacy code knows of: one about a user, one about a notification.

    They stand for the tables other modules add: erase must find them through the metadata.
    """
    notes = Table(
        "test_user_notes",
        db.metadata,
        Column("id", Integer, primary_key=True),
        Column("owner", ForeignKey("users.id"), nullable=False),
        Column("text", String(50)),
    )
    pins = Table(
        "test_pins",
        db.metadata,
        Column("id", Integer, primary_key=True),
        Column("notification_id", ForeignKey("notifications.id"), nullable=False),
    )
    notes.create(db.engine)
    pins.create(db.engine)
    try:
        yield notes, pins
    finally:
        db.session.rollback()
        pins.drop(db.engine)
        notes.drop(db.engine)
        db.metadata.remove(pins)
        db.metadata.remove(notes)


def fill(world: World) -> dict[str, Any]:
    """Give alice a row in every table about users; return what she owns."""
    alice = world.alice
    ids = [send(alice, "first"), send(alice, "second")]
    send(world.bob, "bob's own")
    preferences.set_preferences(alice, {"channels": {"email": False}}, merge=True)
    db.session.add(
        PushSubscription(
            user_id=alice.id,
            endpoint="https://push.example.net/a",
            p256dh="KEY-P256",
            auth="AUTH-S",
        )
    )
    db.session.add(
        Delivery(
            tenant_id=alice.tenant_id,
            user_id=alice.id,
            notification_id=ids[0],
            channel="email",
            status="sent",
            payload={"title": "first"},
        )
    )
    # A scheduled send to alice alone (dropped) and one to alice and bob (alice removed),
    # both created by the admin; and one alice created herself (kept, creator cleared).
    for spec in ({"user_id": alice.id}, {"user_ids": [alice.id, world.bob.id]}):
        db.session.add(
            ScheduledNotification(
                tenant_id=alice.tenant_id,
                created_by=world.admin.id,
                spec={**spec, "title": "later"},
                send_at=utcnow(),
            )
        )
    db.session.add(
        ScheduledNotification(
            tenant_id=alice.tenant_id,
            created_by=alice.id,
            spec={"user_id": world.bob.id, "title": "from alice"},
            send_at=utcnow(),
        )
    )
    # Tenant-level webhook deliveries name recipients in the payload: one for alice alone,
    # one for alice and bob.
    for ids in ([alice.id], [alice.id, world.bob.id]):
        db.session.add(
            Delivery(
                tenant_id=alice.tenant_id,
                user_id=None,
                channel="webhook",
                status="sent",
                payload={"recipient_ids": ids, "recipients": len(ids)},
            )
        )
    sessions.start_session(alice)
    db.session.commit()
    return {"ids": ids}


def test_export_holds_everything_about_the_caller_and_no_secret(any_app: Flask) -> None:
    world = make_world()
    fill(world)
    named = accounts.create_token(world.alice, "laptop")
    resp = any_app.test_client().get(EXPORT, headers=world.alice_h)
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    doc = resp.get_json()
    assert doc["account"]["email"] == "alice@example.com"
    assert [n["title"] for n in doc["notifications"]] == ["first", "second"]
    assert [d["payload"]["title"] for d in doc["deliveries"]] == ["first"]
    assert doc["preferences"]["channels"]["email"] is False
    assert [p["endpoint"] for p in doc["push_subscriptions"]] == ["https://push.example.net/a"]
    assert sorted(t["name"] for t in doc["tokens"]) == ["default", "laptop"]
    assert len(doc["sessions"]) == 1
    assert [e["cursor"] for e in doc["other"]["events"]] == [1, 2]
    text = resp.get_data(as_text=True)
    for secret in (world.alice_token, named, "KEY-P256", "AUTH-S", world.alice.password_hash):
        assert secret not in text
    assert "token_hash" not in text and "bob's own" not in text


def test_erase_self_needs_the_password(any_app: Flask) -> None:
    world = make_world()
    fill(world)
    client = any_app.test_client()
    before = rows_about(world.alice.id)
    wrong = client.delete(ME, json={"password": "not-it-at-all"}, headers=world.alice_h)
    assert wrong.status_code == 403
    assert wrong.get_json()["error"]["code"] == "wrong_password"
    missing = client.delete(ME, json={}, headers=world.alice_h)
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"] == {"password": "required"}
    unknown = client.delete(ME, json={"password": PASSWORD, "x": 1}, headers=world.alice_h)
    assert unknown.status_code == 422
    assert rows_about(world.alice.id) == before  # nothing half-erased
    assert client.get(ME, headers=world.alice_h).status_code == 200


def test_erase_removes_every_row_about_the_user_in_every_table(
    any_app: Flask, extra_tables: tuple[Table, Table]
) -> None:
    notes, pins = extra_tables
    world = make_world()
    owned = fill(world)
    uid, bob_id = world.alice.id, world.bob.id
    db.session.execute(notes.insert().values(owner=uid, text="hers"))
    db.session.execute(notes.insert().values(owner=bob_id, text="his"))
    bob_note = db.session.scalar(select(Notification.id).where(Notification.user_id == bob_id))
    db.session.execute(pins.insert(), [{"notification_id": owned["ids"][0]}])
    db.session.execute(pins.insert(), [{"notification_id": bob_note}])
    db.session.commit()
    assert len(rows_about(uid)) >= 8  # the oracle sees her rows before

    resp = any_app.test_client().delete(ME, json={"password": PASSWORD}, headers=world.alice_h)
    assert resp.status_code == 204
    db.session.expire_all()
    assert rows_about(uid) == {}
    assert db.session.scalar(select(func.count()).select_from(pins)) == 1  # bob's pin stays
    assert [r.text for r in db.session.execute(select(notes)).all()] == ["his"]
    specs = [s.spec for s in db.session.scalars(select(ScheduledNotification))]
    assert {"user_ids": [bob_id], "title": "later"} in specs
    assert all(s.get("user_id") != uid for s in specs) and len(specs) == 2
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1  # bob's
    hooks = db.session.scalars(select(Delivery.payload).where(Delivery.channel == "webhook"))
    assert list(hooks) == [{"recipient_ids": [bob_id], "recipients": 1}]
    assert any_app.test_client().get(ME, headers=world.alice_h).status_code == 401

    (entry,) = db.session.scalars(select(AuditEntry)).all()
    assert (entry.action, entry.tenant_id, entry.actor) == ("erase_user", world.acme.id, "self")
    assert entry.subject == privacy.opaque_id(uid)
    audit_text = json.dumps([entry.subject, entry.actor, entry.action])
    assert "alice" not in audit_text and str(uid) != entry.subject


def test_admin_erases_and_exports_users_of_their_tenant_only(any_app: Flask) -> None:
    world = make_world()
    fill(world)
    client = any_app.test_client()
    alice_url = f"/api/v1/users/{world.alice.id}"
    carol_url = f"/api/v1/users/{world.carol.id}"
    # Another tenant's user and a missing one look the same; members may not.
    assert client.get(f"{carol_url}/export", headers=world.admin_h).status_code == 404
    assert client.delete(carol_url, headers=world.admin_h).status_code == 404
    assert client.delete("/api/v1/users/999999", headers=world.admin_h).status_code == 404
    assert client.delete(alice_url, headers=world.bob_h).status_code == 403
    assert client.get(f"{alice_url}/export", headers=world.bob_h).status_code == 403
    own = client.delete(f"/api/v1/users/{world.admin.id}", headers=world.admin_h)
    assert own.status_code == 409 and own.get_json()["error"]["code"] == "is_self"

    exported = client.get(f"{alice_url}/export", headers=world.admin_h)
    assert exported.status_code == 200
    assert exported.get_json()["account"]["email"] == "alice@example.com"
    uid = world.alice.id
    assert client.delete(alice_url, headers=world.admin_h).status_code == 204
    db.session.expire_all()
    assert rows_about(uid) == {}
    assert client.delete(alice_url, headers=world.admin_h).status_code == 404
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    admin_label = f"admin:{privacy.opaque_id(world.admin.id)}"
    assert [(e.action, e.actor) for e in entries] == [
        ("export_user", admin_label),
        ("erase_user", admin_label),
    ]
    assert db.session.get(User, world.bob.id) is not None


def test_the_erase_user_command(any_app: Flask) -> None:
    world = make_world()
    fill(world)
    uid = world.bob.id
    runner = any_app.test_cli_runner()
    exported = runner.invoke(args=["export-user", "bob@example.com"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["account"]["email"] == "bob@example.com"
    refused = runner.invoke(args=["erase-user", "bob@example.com"], input="n\n")
    assert refused.exit_code == 1 and db.session.get(User, uid) is not None
    out = runner.invoke(args=["erase-user", "BOB@example.com", "--yes"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == f"erased user {uid}"
    db.session.expire_all()
    assert rows_about(uid) == {}
    assert db.session.scalars(select(AuditEntry.actor)).all() == ["cli", "cli"]
    missing = runner.invoke(args=["erase-user", "nobody@example.com", "--yes"])
    assert missing.exit_code == 1 and "no user nobody@example.com" in missing.output
