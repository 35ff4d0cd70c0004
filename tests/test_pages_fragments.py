"""The fragments the stream sends: one render per message, the same for every connection."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import event as sa_event

from notifier.bus.base import Message
from notifier.extensions import db
from notifier.service import events, inbox
from notifier.web import fragments
from tests.factories import World, send

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def frag(app: Flask) -> fragments.Fragments:
    """The stream's fragment source, as the app's HTML renderer holds it."""
    return fragments.Fragments(app)


def notification_message(world: World, nid: int, **data: object) -> Message:
    payload = {
        "id": nid,
        "type": "comment",
        "title": "Hi",
        "body": "",
        "priority": "normal",
        "url": None,
        "tags": [],
        "created_at": "2026-01-01T10:00:00Z",
        "is_read": False,
        **data,
    }
    return Message(
        world.alice.id,
        world.acme.id,
        7,
        "notification",
        payload,
        stats={"total": 3, "unread": 2, "read": 1},
    )


def test_notification_becomes_a_list_insert_and_a_toast(
    app: Flask, world: World, frag: fragments.Fragments
) -> None:
    [(event, html)] = frag.render_message(
        notification_message(world, 42, title=XSS, priority="urgent", tags=["ops"])
    )
    assert event == "notification"
    assert html.startswith(
        '<div hx-swap-oob="afterbegin:#notification-list"><li id="n-42" '
        'class="item is-unread is-unseen prio-urgent is-fresh" data-type="comment" '
        'data-tags=",ops,"\n    data-priority="urgent">'
    )
    assert (
        '<div hx-swap-oob="beforeend:#toasts"><div id="toast-42" class="toast prio-urgent" '
        'role="alert" data-sticky>'
    ) in html  # urgent toasts stay
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'datetime="2026-01-01T10:00:00Z"' in html


def test_fragments_carry_nothing_of_a_session(
    app: Flask, world: World, frag: fragments.Fragments
) -> None:
    # Rendered once per process for every tab of the user: no token, no per-user state.
    [(_, html)] = frag.render_message(notification_message(world, 1))
    assert "csrf_token" not in html
    assert "alice@example.com" not in html


def test_update_rerenders_changed_items_in_place(
    app: Flask, world: World, frag: fragments.Fragments
) -> None:
    a, b = send(world.alice, "A"), send(world.alice, "B")
    inbox.bulk(world.alice, "read", [a, b])
    rows = inbox.visible_rows(world.alice.id, [a, b])  # what the writer's message carries
    data = {"action": "read", "ids": [a, b]}
    msg = Message(world.alice.id, world.acme.id, 9, "update", data, rows=rows)
    [(event, html)] = frag.render_message(msg)
    assert event == "update"
    assert f'<li id="n-{a}" class="item is-read is-seen prio-normal" data-type="comment" ' in html
    assert 'data-priority="normal" hx-swap-oob="true">' in html
    assert html.count('hx-swap-oob="true"') == 2


def test_update_for_another_users_ids_renders_nothing_of_theirs(
    app: Flask, world: World, frag: fragments.Fragments
) -> None:
    bobs = send(world.bob, "Bob's secret")
    rows = inbox.visible_rows(world.alice.id, [bobs])  # the rows a replay loads for alice
    data = {"action": "read", "ids": [bobs]}
    msg = Message(world.alice.id, world.acme.id, 9, "update", data, rows=rows)
    [(_, html)] = frag.render_message(msg)
    assert "secret" not in html
    assert html.strip()  # never empty: an empty SSE event is not dispatched at all


def test_delete_removes_items_and_big_changes_refresh(
    app: Flask, world: World, frag: fragments.Fragments
) -> None:
    msg = Message(world.alice.id, world.acme.id, 9, "update", {"action": "delete", "ids": [3, 4]})
    [(event, html)] = frag.render_message(msg)
    assert event == "update"
    assert html == (
        '<li id="n-3" hx-swap-oob="delete"></li><li id="n-4" hx-swap-oob="delete"></li>'
    )
    many = list(range(1, fragments.MAX_PATCH + 2))
    msg = Message(world.alice.id, world.acme.id, 10, "update", {"action": "read", "ids": many})
    [(event, html)] = frag.render_message(msg)
    assert event == "refresh" and html.strip()


def test_stats_and_reset(app: Flask, world: World, frag: fragments.Fragments) -> None:
    [(event, html)] = frag.render_stats({"total": 150, "unread": 120, "read": 30})
    assert event == "stats"
    assert html.startswith('<span id="unread-badge" hx-swap-oob="innerHTML">')
    assert 'data-count="120">99+' in html
    [(event, html)] = frag.render_stats({"total": 1, "unread": 0, "read": 1})
    assert 'data-count="0" hidden' in html and "No unread notifications" in html
    [(event, html)] = frag.render_reset("<cursor_expired>")
    assert event == "reset" and "&lt;cursor_expired&gt;" in html


def test_render_works_without_a_request(
    app: Flask, world: World, frag: fragments.Fragments
) -> None:
    # The stream renders with no request at all: URLs come from a bound MapAdapter.
    [(_, html)] = frag.render_message(notification_message(world, 5, url="/x"))
    assert 'href="/notifications/5/open"' in html
    assert frag.render_message(Message(world.alice.id, world.acme.id, 0, "ping", {})) == []


def test_live_update_carries_its_rows_and_renders_without_a_query(
    app: Flask, world: World, frag: fragments.Fragments, monkeypatch: pytest.MonkeyPatch
) -> None:
    nid = send(world.alice, "A")
    published: list[Message] = []
    monkeypatch.setattr(events, "publish", lambda msgs: published.extend(msgs) or True)
    inbox.mark(world.alice, nid, read=True)
    [msg] = published
    assert msg.rows is not None and [(r["id"], r["is_read"]) for r in msg.rows] == [(nid, True)]
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        [(name, html)] = frag.render_message(msg)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []  # bus/base.py: no query per event
    assert name == "update" and f'<li id="n-{nid}" class="item is-read is-seen prio-normal"' in html
