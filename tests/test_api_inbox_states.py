"""Inbox states, snooze, stats, groups and search over the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import state
from notifier.models import utcnow
from notifier.service import states
from notifier.service.serialize import iso
from tests.factories import World, make_world, send

URL = "/api/v1/notifications"


@pytest.fixture
def world(any_app: Flask) -> World:
    """The test world on SQLite and on PostgreSQL."""
    return make_world()


@pytest.fixture
def client(any_app: Flask) -> FlaskClient:
    """A test client of the app under test."""
    return any_app.test_client()


def stats(client: FlaskClient, world: World) -> dict[str, int]:
    """Return alice's stats."""
    return client.get(f"{URL}/stats", headers=world.alice_h).get_json()


def titles(client: FlaskClient, world: World, query: str = "") -> list[str]:
    """Return the titles alice's list shows for ``query``, newest first."""
    resp = client.get(f"{URL}?{query}", headers=world.alice_h)
    assert resp.status_code == 200, resp.get_json()
    return [i["title"] for i in resp.get_json()["items"]]


def test_seen_read_archive_and_the_stats_that_follow(client: FlaskClient, world: World) -> None:
    a, b, c = (send(world.alice, t) for t in ("a", "b", "c"))
    assert stats(client, world) == {"total": 3, "unread": 3, "read": 0, "unseen": 3, "archived": 0}
    seen = client.post(f"{URL}/{a}/seen", headers=world.alice_h)
    assert seen.status_code == 200 and seen.get_json()["seen_at"].endswith("Z")
    assert seen.get_json()["is_read"] is False
    client.post(f"{URL}/{b}/read", headers=world.alice_h)  # reading shows it too
    assert stats(client, world) == {"total": 3, "unread": 2, "read": 1, "unseen": 1, "archived": 0}
    archived = client.post(f"{URL}/{b}/archive", headers=world.alice_h).get_json()
    assert archived["archived_at"].endswith("Z")
    assert titles(client, world) == ["c", "a"]  # archived items leave the default list
    assert titles(client, world, "status=archived") == ["b"]
    assert stats(client, world) == {"total": 2, "unread": 2, "read": 0, "unseen": 1, "archived": 1}
    assert titles(client, world, "status=unseen") == ["c"]
    client.post(f"{URL}/{b}/unarchive", headers=world.alice_h)
    assert titles(client, world) == ["c", "b", "a"]
    # Others' notifications are a 404 for every state change.
    for action in ("seen", "archive", "unarchive"):
        assert client.post(f"{URL}/{c}/{action}", headers=world.bob_h).status_code == 404


def test_seen_all_archive_all_read_and_bulk(client: FlaskClient, world: World) -> None:
    a, b, c = (send(world.alice, t) for t in ("a", "b", "c"))
    bobs = send(world.bob, "bob's")
    assert client.post(f"{URL}/seen-all", headers=world.alice_h).get_json() == {"updated": 3}
    assert stats(client, world)["unseen"] == 0
    client.post(f"{URL}/{a}/read", headers=world.alice_h)
    resp = client.post(f"{URL}/archive-all", headers=world.alice_h, json={"status": "read"})
    assert resp.get_json() == {"updated": 1}
    assert titles(client, world) == ["c", "b"]
    bad = client.post(f"{URL}/archive-all", headers=world.alice_h, json={"status": "unread"})
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]
    resp = client.post(
        f"{URL}/bulk", headers=world.alice_h, json={"action": "archive", "ids": [b, c, bobs]}
    )
    assert resp.get_json() == {"updated": 2, "not_found": [bobs]}
    assert titles(client, world) == []
    assert client.post(f"{URL}/archive-all", headers=world.alice_h).get_json() == {"updated": 0}
    client.post(f"{URL}/bulk", headers=world.alice_h, json={"action": "unarchive", "ids": [a, b]})
    assert titles(client, world) == ["b", "a"]
    assert client.get(f"{URL}/{bobs}", headers=world.bob_h).get_json()["archived_at"] is None


@pytest.mark.parametrize(
    "until",
    [
        lambda now: iso(now - timedelta(minutes=1)),
        lambda now: iso(now + timedelta(days=30, minutes=5)),
        lambda now: "tomorrow",
        lambda now: None,
        lambda now: 12,
    ],
)
def test_snooze_outside_now_to_30_days_is_422(
    client: FlaskClient, world: World, until: Any
) -> None:
    nid = send(world.alice, "a")
    resp = client.post(
        f"{URL}/{nid}/snooze", headers=world.alice_h, json={"until": until(utcnow())}
    )
    assert resp.status_code == 422
    assert "until" in resp.get_json()["error"]["fields"]
    assert client.get(f"{URL}/{nid}", headers=world.alice_h).get_json()["snoozed_until"] is None


def test_snoozed_item_hides_then_returns_unread_with_a_new_notification_event(
    client: FlaskClient, world: World
) -> None:
    nid = send(world.alice, "later")
    send(world.alice, "now")
    client.post(f"{URL}/{nid}/read", headers=world.alice_h)
    until = utcnow() + timedelta(hours=1)
    resp = client.post(f"{URL}/{nid}/snooze", headers=world.alice_h, json={"until": iso(until)})
    assert resp.status_code == 200 and resp.get_json()["snoozed_until"] == iso(until)
    assert titles(client, world) == ["now"]
    assert titles(client, world, "status=snoozed") == ["later"]
    assert stats(client, world)["total"] == 1
    sub = state().hub.subscribe(world.alice.id, world.alice.tenant_id)
    assert states.wake_due(now=utcnow()) == 0  # not due yet
    assert states.wake_due(now=until + timedelta(seconds=1)) == 1  # the scheduler's tick
    assert states.wake_due(now=until + timedelta(seconds=2)) == 0  # exactly once
    msg = sub.queue.get(timeout=5)
    assert msg.event == "notification" and msg.data["id"] == nid
    assert msg.data["is_read"] is False and msg.data["snoozed_until"] is None
    assert titles(client, world) == ["now", "later"]
    item = client.get(f"{URL}/{nid}", headers=world.alice_h).get_json()
    assert item["is_read"] is False and item["seen_at"] is None


def test_every_state_change_is_an_update_event_with_its_action(
    client: FlaskClient, world: World
) -> None:
    nid = send(world.alice, "a")
    sub = state().hub.subscribe(world.alice.id, world.alice.tenant_id)
    until = iso(utcnow() + timedelta(hours=2))
    client.post(f"{URL}/{nid}/seen", headers=world.alice_h)
    client.post(f"{URL}/{nid}/archive", headers=world.alice_h)
    client.post(f"{URL}/{nid}/unarchive", headers=world.alice_h)
    client.post(f"{URL}/{nid}/snooze", headers=world.alice_h, json={"until": until})
    got = [sub.queue.get(timeout=5) for _ in range(4)]
    assert [(m.event, m.data["action"], m.data["ids"]) for m in got] == [
        ("update", a, [nid]) for a in ("seen", "archive", "unarchive", "snooze")
    ]
    assert [m.cursor for m in got] == sorted({m.cursor for m in got})
    assert got[-1].stats == {"total": 0, "unread": 0, "read": 0, "unseen": 0, "archived": 0}


def test_search_matches_every_word_as_a_case_insensitive_prefix(
    client: FlaskClient, world: World
) -> None:
    send(world.alice, "Deploy finished", body="Build 812 is LIVE on production")
    send(world.alice, "Deploy failed", body="Rollback started")
    send(world.alice, "Lunch", body="Pizza in the kitchen")
    send(world.bob, "Deploy finished for bob")
    assert titles(client, world, "q=deploy") == ["Deploy failed", "Deploy finished"]
    assert titles(client, world, "q=DEPL") == ["Deploy failed", "Deploy finished"]
    assert titles(client, world, "q=deploy+live") == ["Deploy finished"]  # body words count
    assert titles(client, world, "q=deploy+pizza") == []  # every word must match
    assert titles(client, world, "q=produc") == ["Deploy finished"]
    # Query syntax of either engine is just text here.
    assert titles(client, world, 'q="deploy" OR -lunch*') == []
    assert titles(client, world, "q=%22%28%29%3A%2A") == [
        "Lunch",
        "Deploy failed",
        "Deploy finished",
    ]


def test_priority_dates_type_and_tag_filters(client: FlaskClient, world: World) -> None:
    send(world.alice, "low one", priority="low", tags=["ops"])
    send(world.alice, "urgent one", priority="urgent", type="alert")
    send(world.alice, "high one", priority="high", tags=["ops"])
    assert titles(client, world, "priority=high,urgent") == ["high one", "urgent one"]
    assert titles(client, world, "priority=low&tag=ops") == ["low one"]
    assert titles(client, world, "type=alert") == ["urgent one"]
    later = iso(utcnow() + timedelta(hours=1))
    earlier = iso(utcnow() - timedelta(hours=1))
    assert titles(client, world, f"since={later}") == []
    assert len(titles(client, world, f"since={earlier}&until={later}")) == 3


def test_groups_collapse_into_the_newest_with_a_count_and_read_together(
    client: FlaskClient, world: World
) -> None:
    first = send(world.alice, "Bob commented on Report 7", group_key="report-7")
    send(world.alice, "Unrelated")
    newest = [
        send(world.alice, f"Dev {i} commented on Report 7", group_key="report-7") for i in (2, 3)
    ][-1]
    resp = client.get(f"{URL}?group=true", headers=world.alice_h).get_json()
    assert [(i["title"], i["group"]) for i in resp["items"]] == [
        ("Dev 3 commented on Report 7", {"key": "report-7", "count": 3}),
        ("Unrelated", None),
    ]
    assert len(titles(client, world)) == 4  # ungrouped: every item
    read = client.post(f"{URL}/{newest}/read?group=true", headers=world.alice_h)
    assert read.status_code == 200
    assert client.get(f"{URL}/{first}", headers=world.alice_h).get_json()["is_read"] is True
    assert stats(client, world)["unread"] == 1


def test_group_key_is_validated_on_publish(client: FlaskClient, world: World) -> None:
    body = {"user_id": world.alice.id, "type": "comment", "title": "x", "group_key": "k" * 256}
    resp = client.post(URL, headers=world.admin_h, json=body)
    assert resp.status_code == 422 and "group_key" in resp.get_json()["error"]["fields"]
    ok = client.post(URL, headers=world.admin_h, json={**body, "group_key": "report-7"})
    assert ok.status_code == 201
    assert ok.get_json()["notification"]["group_key"] == "report-7"


def test_search_is_answered_from_the_full_text_index(any_app: Flask, world: World) -> None:
    from sqlalchemy import select, text

    from notifier.extensions import db
    from notifier.models import Notification
    from notifier.service import search

    send(world.alice, "Deploy finished")
    cond = search.conditions(world.alice.id, search.Filters(q="deploy"))
    query = select(Notification.id).where(cond[-1])  # the text match alone: can it use the index?
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = db.session.execute(text(f"EXPLAIN {sql}")).scalars().all()
        assert "ix_notifications_fts" in " ".join(plan)
    else:
        rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
        assert "VIRTUAL TABLE INDEX" in " ".join(str(r[-1]) for r in rows)
    db.session.rollback()
