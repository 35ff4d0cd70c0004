"""A tenant broadcast stored in bulk and carried as ONE bus item (issue 10's third pass).

What a user would notice if it went wrong: another user's id or cursor in their event, a
count that is not theirs, a live event that differs from its replay, a stream of a user
who was not a recipient getting something. Checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from notifier.bus.base import Fanout, Message, decode_batch, encode_batch
from notifier.bus.cluster_publish import Publisher
from notifier.bus.hub import Hub
from notifier.extensions import db, state
from notifier.models import Event, Notification
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from notifier.stream import render
from notifier.stream.render import JSON, encoded
from notifier.web.renderer import html_renderer
from tests.factories import make_user, send


def _fanout(n: int = 3) -> Fanout:
    data = {"type": "system", "title": 'Ünïcode "q" <b>', "tags": ["a"], "body": "x\ny"}
    entries = [(10 + i, 5 + i, 100 + i, 3 + i, 2, 1, 0) for i in range(n)]
    return Fanout(7, "notification", data, entries, key="k1")


def test_one_bus_item_reaches_only_local_recipients_with_their_own_ids() -> None:
    hub = Hub()
    mine = hub.subscribe(11, 7)
    other = hub.subscribe(99, 7)  # same tenant, not a recipient
    (item,) = decode_batch(encode_batch([_fanout()]))  # the Redis wire, one PUBLISH
    assert isinstance(item, Fanout) and item.key == "k1"
    assert hub.deliver([item]) == 1
    msg = mine.get(timeout=0.1)
    assert msg is not None and (msg.user_id, msg.cursor, msg.data["id"]) == (11, 6, 101)
    assert msg.stats == {"total": 4, "unread": 2, "read": 2, "unseen": 1, "archived": 0}
    assert other.get(timeout=0.01) is None


def test_spliced_json_bytes_equal_the_per_user_encoding() -> None:
    fanout = _fanout()
    for entry in fanout.entries:
        m = fanout.message(entry)
        assert encoded(m, JSON) == JSON.message(Message(**_fields(m)))
    assert render.SHARED.get(fanout, "json", JSON.shared) is not None


def test_spliced_html_equals_the_per_user_render(app: Flask) -> None:
    with app.app_context():
        renderer = html_renderer("de")
    fanout = _fanout()
    for entry in fanout.entries:
        m = fanout.message(entry)
        whole = renderer.message(Message(**_fields(m)))
        assert encoded(m, renderer) == whole
        assert f'id="n-{entry[2]}"'.encode() in whole
    # Content that holds the placeholder's digits is rendered per user, still right.
    odd = Fanout(7, "notification", {**fanout.data, "title": "907195348261"}, fanout.entries, "k2")
    m = odd.message(odd.entries[0])
    assert encoded(m, renderer) == renderer.message(Message(**_fields(m)))


def test_cluster_publish_splits_by_user_channel_in_order() -> None:
    pub = Publisher.__new__(Publisher)
    pub.channel = lambda uid: f"n:u:{uid}"  # type: ignore[method-assign]

    class Slots:
        def node_for(self, channel: str) -> str:
            return "a" if channel.endswith(("0", "2")) else "b"

    pub.slots = Slots()  # type: ignore[assignment]
    before = Message(10, 7, 5, "update", {"ids": [1]})
    plan = pub._plan([before, _fanout()])
    got = {ch: decode_batch(p) for items in plan.values() for ch, p in items}
    assert set(got) == {"n:u:10", "n:u:11", "n:u:12"}
    first, second = got["n:u:10"]
    assert first == before  # the user's own order is kept
    assert isinstance(second, Fanout) and [e[0] for e in second.entries] == [10]
    assert second.key == "k1" and second.data == _fanout().data


def _fields(m: Message) -> dict:
    return {k: getattr(m, k) for k in ("user_id", "tenant_id", "cursor", "event", "data", "stats")}


def test_broadcast_rows_events_and_live_messages_agree(any_app: Flask) -> None:
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    carol = make_user("carol@example.com")
    send(bob, "earlier")  # bob's cursor and counts differ from the others'
    subs = {u.id: state().hub.subscribe(u.id, u.tenant_id) for u in (alice, bob, carol)}
    subs[bob.id].get(timeout=1)
    content = validate_content({"type": "system", "title": "Maintenance", "channels": ["in_app"]})
    ids = [alice.id, bob.id, carol.id]
    result = notify_svc.notify(alice.tenant_id, content, ids, sender_id=None)
    assert len(result.ids) == 3
    for uid, nid in zip(ids, result.ids, strict=True):
        row = db.session.get(Notification, nid)
        assert row is not None and row.read_at is None
        assert (row.user_id, row.title) == (uid, "Maintenance")
        assert row.decision and row.created_at is not None
        live = subs[uid].get(timeout=1)
        assert live is not None and live.data["id"] == nid
        logged = db.session.execute(
            select(Event.cursor, Event.payload).where(
                Event.user_id == uid, Event.cursor == live.cursor
            )
        ).one()
        assert dict(logged.payload) == live.data  # what a resume replays is what went live
        assert live.cursor == (2 if uid == bob.id else 1)
        unread = 2 if uid == bob.id else 1
        assert live.stats == {
            "total": unread,
            "unread": unread,
            "read": 0,
            "unseen": unread,
            "archived": 0,
        }
    assert json.loads(json.dumps(live.data))["title"] == "Maintenance"


def test_a_broadcast_costs_one_statement_per_table_whatever_its_size(any_app: Flask) -> None:
    from tests.test_notify_sql import counting

    users = [make_user(f"u{i}@example.com") for i in range(40)]
    tenant = users[0].tenant_id
    content = validate_content({"type": "system", "title": "All", "channels": ["in_app"]})
    audience = notify_svc.resolve_recipients(tenant, {"tenant": True})
    counts = []
    for size in (3, 40):
        with counting() as c:
            notify_svc.notify(tenant, content, audience[:size], sender_id=None)
        counts.append((len(c.statements), c.commits))
    # The recipients, INSERT notifications … SELECT, the cursor upsert … SELECT, INSERT
    # events … SELECT, and the commit (before: one parameter row per recipient per table).
    assert counts == [(4, 1), (4, 1)], counts
