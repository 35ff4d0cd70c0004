"""Service behaviour on SQLite and PostgreSQL: fan-out, cursors, preferences, stats."""

from __future__ import annotations

import re
import threading
from datetime import datetime

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from notifier.extensions import db, state
from notifier.models import Delivery, Event, EventCursor, Notification, User
from notifier.service import ValidationError, accounts, inbox, preferences, schedule, states
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from tests.factories import PASSWORD, make_user, send


def cursors(user_id: int) -> list[int]:
    return list(
        db.session.scalars(select(Event.cursor).where(Event.user_id == user_id).order_by(Event.id))
    )


def recount(user_id: int) -> dict[str, int]:
    rows = db.session.scalars(
        select(Notification).where(
            Notification.user_id == user_id, Notification.deleted_at.is_(None)
        )
    ).all()
    listed = [n for n in rows if n.archived_at is None and n.snoozed_until is None]
    read = sum(1 for n in listed if n.read_at is not None)
    return {
        "total": len(listed),
        "unread": len(listed) - read,
        "read": read,
        "unseen": sum(1 for n in listed if n.seen_at is None),
        "archived": sum(1 for n in rows if n.archived_at is not None),
    }


def test_notify_stores_logs_and_publishes(any_app: Flask) -> None:
    alice = make_user("alice@example.com")
    sub = state().hub.subscribe(alice.id, alice.tenant_id)
    nid = send(alice, "Build finished", tags=["ci", "main"], url="/builds/1")
    n = db.session.get(Notification, nid)
    assert (n.title, n.tags, n.url, n.is_read) == (
        "Build finished",
        ["ci", "main"],
        "/builds/1",
        False,
    )
    assert cursors(alice.id) == [1]
    msg = sub.get(timeout=1)
    assert msg is not None and (msg.event, msg.cursor, msg.data["id"]) == ("notification", 1, nid)
    assert msg.stats == {"total": 1, "unread": 1, "read": 0, "unseen": 1, "archived": 0}


def test_mark_delete_and_bulk_log_one_update_each(any_app: Flask) -> None:
    alice = make_user("alice@example.com")
    ids = [send(alice, f"n{i}") for i in range(3)]
    inbox.mark(alice, ids[0], read=True)
    inbox.mark(alice, ids[0], read=True)  # no change: no event
    inbox.delete(alice, ids[1])
    updated, missing = inbox.bulk(alice, "read", [ids[2], ids[1], 999999])
    assert (updated, missing) == (1, [ids[1], 999999])
    kinds = db.session.execute(
        select(Event.kind, Event.payload).where(Event.user_id == alice.id).order_by(Event.cursor)
    ).all()
    assert [k for k, _ in kinds] == ["notification"] * 3 + ["update"] * 3
    assert [p for _, p in kinds[3:]] == [
        {"action": "read", "ids": [ids[0]]},
        {"action": "delete", "ids": [ids[1]]},
        {"action": "read", "ids": [ids[2]]},
    ]
    assert cursors(alice.id) == [1, 2, 3, 4, 5, 6]
    assert inbox.stats(alice.id) == {"total": 2, "unread": 0, "read": 2, "unseen": 0, "archived": 0}


def test_other_users_notifications_are_not_found(any_app: Flask) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    nid = send(alice)
    from notifier.service import NotFound

    for action in (
        lambda: inbox.get(bob, nid),
        lambda: inbox.mark(bob, nid, read=True),
        lambda: inbox.delete(bob, nid),
    ):
        with pytest.raises(NotFound):
            action()
    assert inbox.bulk(bob, "delete", [nid]) == (0, [nid])
    assert inbox.stats(alice.id)["unread"] == 1


def test_fan_out_to_ten_thousand_recipients_in_one_call(any_app: Flask) -> None:
    tenant = accounts.get_or_create_tenant("big")
    db.session.execute(
        insert(User),
        [
            {
                "tenant_id": tenant.id,
                "email": f"u{i}@big.example.com",
                "password_hash": "x",
                "role": "member",
                "timezone": "UTC",
                "active": True,
            }
            for i in range(10_000)
        ],
    )
    db.session.commit()
    ids = notify_svc.resolve_recipients(tenant.id, {"tenant": True})
    assert len(ids) == 10_000
    content = validate_content({"type": "system", "title": "Maintenance", "channels": ["in_app"]})
    result = notify_svc.notify(tenant.id, content, ids, sender_id=None)
    assert result.success and len(result.ids) == 10_000
    assert db.session.scalar(select(func.count()).select_from(Event)) == 10_000
    assert db.session.scalar(select(func.max(EventCursor.value))) == 1
    # A second fan-out moves every cursor to 2 (rows created lazily the first time).
    notify_svc.notify(tenant.id, content, ids[:500], sender_id=None)
    assert db.session.scalar(select(func.count()).where(EventCursor.value == 2)) == 500


def test_unknown_and_foreign_recipients_are_rejected(any_app: Flask) -> None:
    alice = make_user("alice@example.com")
    carol = make_user("carol@globex.com", tenant="globex")
    for spec in (
        {"user_id": carol.id},
        {"email": "carol@globex.com"},
        {"user_ids": [alice.id, carol.id]},
        {"user_id": 424242},
    ):
        with pytest.raises(ValidationError) as err:
            notify_svc.resolve_recipients(alice.tenant_id, spec)
        assert err.value.code == "unknown_recipient"


def test_preferences_route_channels(any_app: Flask) -> None:
    any_app.config.update(NOTIFIER_SMTP_HOST="127.0.0.1", NOTIFIER_SMS_URL="http://127.0.0.1:9/")
    alice = make_user("alice@example.com", phone="+15551234567")
    preferences.set_preferences(
        alice, {"types": {"comment": {"email": False}}, "channels": {"sms": True}}, merge=True
    )
    content = validate_content({"type": "comment", "title": "Hi"})
    result = notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    assert result.channels == {
        "in_app": True,
        "email": False,
        "push": False,
        "sms": True,
        "webhook": False,
        "chat": False,
    }
    assert result.errors["email"] == "disabled by preferences"
    assert result.errors["push"] == "push channel is not configured"
    channels = db.session.scalars(select(Delivery.channel)).all()
    assert channels == ["sms"]
    preferences.set_preferences(alice, {"types": {"comment": {"in_app": False}}}, merge=True)
    result = notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    assert result.channels["in_app"] is False and result.ids == []


def test_half_configured_push_is_off_for_the_fan_out_and_the_preferences_page(
    app: Flask,
) -> None:
    # One answer to "is push set up" (the registry's): the sender would refuse without the
    # public key, so notify() must not queue rows it can never send.
    app.config.update(NOTIFIER_VAPID_PRIVATE_KEY="private-only")
    alice = make_user("alice@example.com")
    content = validate_content({"type": "comment", "title": "Hi", "channels": ["push"]})
    result = notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    assert result.errors == {"push": "push channel is not configured"}
    client = app.test_client()
    client.post("/login", data={"email": "alice@example.com", "password": PASSWORD})
    page = client.get("/preferences").get_data(as_text=True)
    assert re.search(r">Push\s*<span[^>]*>\(not set up on this server\)", page)


def test_mandatory_type_cannot_be_switched_off(any_app: Flask) -> None:
    alice = make_user("alice@example.com")
    with pytest.raises(ValidationError) as err:
        preferences.set_preferences(alice, {"types": {"security": {"in_app": False}}}, merge=True)
    assert "types.security.in_app" in err.value.fields
    preferences.set_preferences(alice, {"channels": {"in_app": False}}, merge=True)
    content = validate_content({"type": "security", "title": "New sign-in"})
    assert notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None).ids


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-01-01T21:59:00", None),
        ("2026-01-01T22:00:00", "2026-01-02T07:00:00"),
        ("2026-01-02T03:00:00", "2026-01-02T07:00:00"),
        ("2026-01-02T07:00:00", None),
    ],
)
def test_quiet_hours_window_wraps_midnight(now: str, expected: str | None) -> None:
    prefs = {"quiet_hours": {"enabled": True, "start": "22:00", "end": "07:00", "timezone": "UTC"}}
    got = preferences.quiet_until(prefs, datetime.fromisoformat(now))
    assert got == (datetime.fromisoformat(expected) if expected else None)


def test_concurrent_writers_get_contiguous_cursors(any_app: Flask) -> None:
    alice = make_user("alice@example.com")
    uid, tid = alice.id, alice.tenant_id
    errors: list[BaseException] = []

    def worker() -> None:
        with any_app.app_context():
            try:
                for _ in range(15):
                    user = db.session.get(User, uid)
                    content = validate_content(
                        {"type": "comment", "title": "x", "channels": ["in_app"]}
                    )
                    notify_svc.notify(tid, content, [user.id], sender_id=None)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(cursors(uid)) == list(range(1, 61))


ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "notify",
                "read",
                "unread",
                "delete",
                "read_all",
                "bulk_read",
                "bulk_delete",
                "bulk_seen",
                "bulk_archive",
                "bulk_unarchive",
                "archive_all",
            ]
        ),
        st.integers(min_value=0, max_value=9),
    ),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=ops)
def test_any_sequence_keeps_stats_and_strictly_increasing_cursors(app: Flask, seq: list) -> None:
    user = make_user(f"h{db.session.scalar(select(func.count()).select_from(User))}@x.example.com")
    ids: list[int] = []
    for op, k in seq:
        target = ids[k % len(ids)] if ids else 10**9
        if op == "notify":
            ids.append(send(user))
        elif op in ("read", "unread") and ids:
            inbox.mark(user, target, read=op == "read") if _visible(target) else None
        elif op == "delete" and ids and _visible(target):
            inbox.delete(user, target)
        elif op == "read_all":
            inbox.read_all(user)
        elif op == "archive_all":
            states.archive_all(user, "read" if k % 2 else None)
        elif op.startswith("bulk_"):
            inbox.bulk(user, op[5:], ids[k % 3 :: 2] + [10**9])
        assert inbox.stats(user.id) == recount(user.id)
    log = cursors(user.id)
    assert log == sorted(set(log)) and log == list(range(1, len(log) + 1))
    assert events_cursor(user.id) == (log[-1] if log else 0)


def _visible(nid: int) -> bool:
    n = db.session.get(Notification, nid)
    return n is not None and n.deleted_at is None


def events_cursor(uid: int) -> int:
    from notifier.service import events

    return events.current_cursor(uid)


def test_scheduled_notification_is_released_once_when_due(any_app: Flask) -> None:
    from datetime import timedelta

    from notifier.models import ScheduledNotification, utcnow

    alice = make_user("alice@example.com")
    later = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    content = validate_content(
        {"type": "reminder", "title": "Standup", "send_at": later, "channels": ["in_app"]}
    )
    assert schedule.later(content)
    result = schedule.schedule(alice.tenant_id, content, [alice.id], sender_id=None)
    assert result.scheduled_id and result.ids == []
    assert schedule.release_due() == 0
    assert inbox.stats(alice.id)["total"] == 0
    row = db.session.get(ScheduledNotification, result.scheduled_id)
    row.send_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert schedule.release_due() == 1
    assert schedule.release_due() == 0
    page = inbox.list_page(alice)
    assert [n.title for n in page.items] == ["Standup"] and page.cursor == 1


def test_one_call_queues_user_and_webhook_deliveries_linked_to_the_inbox_row(
    any_app: Flask,
) -> None:
    from notifier.models import WebhookEndpoint

    any_app.config.update(NOTIFIER_SMTP_HOST="127.0.0.1")
    alice = make_user("alice@example.com")
    db.session.add(
        WebhookEndpoint(tenant_id=alice.tenant_id, url="https://hooks.example.com/x", secret="s")
    )
    db.session.commit()
    content = validate_content(
        {"type": "comment", "title": "Hi", "channels": ["in_app", "email", "webhook"]}
    )
    result = notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    assert result.channels == {"in_app": True, "email": True, "webhook": True}
    rows = {d.channel: d for d in db.session.scalars(select(Delivery))}
    assert rows["email"].notification_id == result.ids[0] and rows["email"].webhook_id is None
    assert rows["webhook"].notification_id is None
    assert rows["webhook"].payload["notification_ids"] == result.ids
