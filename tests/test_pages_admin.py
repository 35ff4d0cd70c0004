"""The admin dashboard: who may see it, its polled live fragments, sending, preview, retry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import db, state
from notifier.models import Delivery, Notification, utcnow
from notifier.service import inbox
from tests.conftest import AuthActions
from tests.factories import World, send

HX = {"HX-Request": "true"}
ADMIN_PATHS = [
    ("GET", "/admin"),
    ("GET", "/admin/live"),
    ("GET", "/admin/panels"),
    ("POST", "/admin/send"),
    ("POST", "/admin/preview"),
    ("POST", "/admin/dead-letters/1/retry"),
]


def dead_delivery(world: World, tenant_id: int | None = None) -> int:
    """Store a delivery that used up its retries; return its id."""
    row = Delivery(
        tenant_id=tenant_id or world.acme.id,
        user_id=world.alice.id,
        channel="email",
        status="dead",
        payload={"title": "Invoice <b>ready</b>"},
        attempts=8,
        last_error="550 mailbox unavailable",
    )
    db.session.add(row)
    db.session.commit()
    return row.id


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
def test_members_get_404(
    world: World, client: FlaskClient, auth: AuthActions, method: str, path: str
) -> None:
    auth.login("bob@example.com")
    assert client.open(path, method=method).status_code == 404


def test_anonymous_visitors_are_sent_to_login(client: FlaskClient) -> None:
    resp = client.get("/admin")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_dashboard_shows_stats_chart_deliveries_and_dead_letters(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    send(world.alice, "One")
    dead = dead_delivery(world)
    auth.login("admin@example.com")
    html = client.get("/admin").text
    assert 'id="kpi-connections" data-value="0"' in html
    assert f"<code>{state().instance}</code>" in html  # this process's instance row
    assert len(re.findall(r'<rect class="bar', html)) == 24
    assert re.search(r'<rect class="bar" [^>]*><title>\d\d:00 UTC: 1</title>', html)
    assert '<th scope="row">email</th>' in html  # deliveries by channel
    assert f'action="/admin/dead-letters/{dead}/retry"' in html
    assert "Invoice &lt;b&gt;ready&lt;/b&gt;" in html
    assert " style=" not in html  # CSP style-src 'self' would block it


def _kpis(html: str) -> str:
    match = re.search(r'<div class="kpis">.*?</dl>', html, re.S)
    assert match, html
    return match.group(0)


def test_live_panel_polls_the_partial_the_page_renders(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    page = client.get("/admin").text
    assert 'hx-get="/admin/live" hx-trigger="every 2s"' in page
    assert 'hx-get="/admin/panels" hx-trigger="every 10s"' in page
    assert 'sse-connect="/admin' not in page  # the page stream is the only SSE source
    resp = client.get("/admin/live", headers=HX)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert "<html" not in resp.text
    assert _kpis(resp.text) == _kpis(page)  # the same partial, the same figures
    panels = client.get("/admin/panels", headers=HX).text
    assert '<h3 id="del-h">Deliveries</h3>' in panels and '<h3 id="queue-h">' in panels


def test_the_admin_stream_is_gone(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    assert client.get("/admin/stream").status_code == 404


def test_polling_holds_no_stream_slot(
    app: Flask, world: World, client: FlaskClient, auth: AuthActions
) -> None:
    # A dashboard open in many tabs no longer uses up the admin's stream slots.
    hub = app.extensions["notifier"].hub
    hub.max_per_user = 1  # NOTIFIER_MAX_CONNECTIONS_PER_USER
    auth.login("admin@example.com")
    for _ in range(3):
        assert client.get("/admin/live", headers=HX).status_code == 200
    assert hub.by_user().get(world.admin.id, 0) == 0
    stream = client.get("/stream", buffered=False)
    try:
        assert stream.status_code == 200  # the one slot is still free for the page stream
    finally:
        stream.close()


def test_a_poll_after_logout_takes_the_tab_to_login(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    assert client.get("/admin/live", headers=HX).status_code == 200
    auth.logout()
    for path in ("/admin/live", "/admin/panels"):
        resp = client.get(path, headers=HX)
        # Not the login page swapped into the panel: htmx sends the whole tab to sign in.
        assert resp.status_code == 401 and resp.text == ""
        assert resp.headers["HX-Redirect"] == "/login?next=/admin"
    plain = client.get("/admin/live")
    assert plain.status_code == 302 and "/login" in plain.headers["Location"]


def test_retry_queue_shows_attempts_next_attempt_and_last_error(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    now = utcnow()
    failed = Delivery(
        tenant_id=world.acme.id,
        user_id=world.alice.id,
        channel="email",
        payload={"title": "Build <b>broken</b>"},
        attempts=2,
        due_at=now + timedelta(seconds=90),
        last_error="SMTP unavailable: TimeoutError: timed out",
    )
    waiting = Delivery(
        tenant_id=world.acme.id, user_id=world.bob.id, channel="webhook", payload={"title": "Hi"}
    )
    theirs = Delivery(
        tenant_id=world.globex.id,
        user_id=world.carol.id,
        channel="email",
        payload={"title": "Globex secret"},
        attempts=1,
        due_at=now + timedelta(seconds=60),
        last_error="refused",
    )
    db.session.add_all([waiting, failed, theirs])
    db.session.commit()
    auth.login("admin@example.com")
    for html in (client.get("/admin").text, client.get("/admin/panels", headers=HX).text):
        rows = re.findall(r'<tr id="queued-(\d+)" data-state="(\w+)">(.*?)</tr>', html, re.S)
        assert [(int(i), state) for i, state, _ in rows] == [
            (failed.id, "failed"),  # failed ones first
            (waiting.id, "queued"),
        ]
        cells = rows[0][2]
        assert "Build &lt;b&gt;broken&lt;/b&gt;" in cells
        assert '<td class="num">2</td>' in cells  # attempts so far
        due = failed.due_at.isoformat(timespec="seconds")
        assert f'<time datetime="{due}' in cells and f"{due[11:19]} UTC" in cells
        wait = re.search(r"\(in (\d+) s\)", cells)
        assert wait and 0 < int(wait.group(1)) <= 90
        assert "SMTP unavailable: TimeoutError: timed out" in cells
        assert "Globex secret" not in html  # another tenant's queue


def test_send_to_one_user(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    resp = client.post(
        "/admin/send",
        headers=HX,
        data={
            "audience": "user",
            "emails": "bob@example.com",
            "type": "system",
            "title": "Maintenance",
            "body": "Tonight",
            "priority": "high",
            "url": "/status",
        },
    )
    assert resp.status_code == 200
    assert "Sent to 1 person." in resp.text
    n = Notification.query.filter_by(user_id=world.bob.id).one()
    assert (n.title, n.priority, n.url, n.body) == ("Maintenance", "high", "/status", "Tonight")


def test_send_to_several_users_and_to_the_tenant(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    resp = client.post(
        "/admin/send",
        data={
            "audience": "users",
            "emails": "alice@example.com,\nbob@example.com",
            "type": "system",
            "title": "Hi both",
            "priority": "normal",
        },
    )
    assert resp.status_code == 302
    assert "Sent to 2 people." in client.get("/admin").text
    client.post(
        "/admin/send",
        data={"audience": "tenant", "type": "system", "title": "Everyone", "priority": "normal"},
    )
    assert inbox.stats(world.alice.id)["total"] == 2
    assert inbox.stats(world.admin.id)["total"] == 1
    assert inbox.stats(world.carol.id)["total"] == 0  # another tenant


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"audience": "user", "emails": "carol@globex.test"},
            "emails",
            "No user in your tenant with: carol@globex.test",
        ),
        ({"audience": "user", "emails": "a@example.com b@example.com"}, "emails", "One email only"),
        ({"audience": "users", "emails": ""}, "emails", "Enter at least one email."),
        ({"audience": "tenant", "title": ""}, "title", "This field is required."),
        (
            {"audience": "tenant", "url": "javascript:alert(1)"},
            "url",
            "must be an http(s) URL or a path starting with /",
        ),
        ({"audience": "tenant", "type": "bad type!"}, "type", "Letters, digits and _.:- only."),
    ],
)
def test_send_form_errors_stand_next_to_the_field(
    world: World, client: FlaskClient, auth: AuthActions, data: dict, field: str, message: str
) -> None:
    auth.login("admin@example.com")
    form = {"type": "system", "title": "T", "priority": "normal", **data}
    resp = client.post("/admin/send", headers=HX, data=form)
    assert resp.status_code == 422
    assert re.search(rf'<p class="error" id="{field}-error">[^<]*{re.escape(message)}', resp.text)
    assert Notification.query.count() == 0


def test_preview_renders_the_list_item_escaped(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    resp = client.post(
        "/admin/preview",
        headers=HX,
        data={"type": "system", "title": "<script>alert(1)</script>", "priority": "urgent"},
    )
    assert '<ul class="items preview-list"><li class="item is-unread prio-urgent' in resp.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text
    assert "<script>" not in resp.text
    assert Notification.query.count() == 0
    empty = client.post("/admin/preview", headers=HX, data={"type": "", "title": ""})
    assert "Fill in a type and a title" in empty.text


def test_retry_puts_a_dead_letter_back(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    mine, other = dead_delivery(world), dead_delivery(world)
    theirs = dead_delivery(world, tenant_id=world.globex.id)
    auth.login("admin@example.com")
    resp = client.post(f"/admin/dead-letters/{mine}/retry", headers=HX)
    assert resp.status_code == 200 and "queued for retry" in resp.text
    # The table is re-rendered (the other dead letter still listed), not replaced by one line.
    assert 'id="dead-letters"' in resp.text
    assert f'<tr id="dead-{other}">' in resp.text and f'<tr id="dead-{mine}">' not in resp.text
    assert db.session.get(Delivery, mine).status == "pending"
    assert client.post(f"/admin/dead-letters/{theirs}/retry").status_code == 404
    assert client.post(f"/admin/dead-letters/{mine}/retry").status_code == 404  # not dead now


def test_dashboard_names_only_users_of_my_tenant(app: Flask, world: World) -> None:
    from notifier.extensions import state
    from notifier.web.admin import collect

    hub = state(app).hub
    subs = [
        hub.subscribe(world.bob.id, world.acme.id),
        hub.subscribe(world.bob.id, world.acme.id),
        hub.subscribe(world.carol.id, world.globex.id),
    ]
    try:
        stats = collect(app, world.acme.id)
    finally:
        for sub in subs:
            hub.unsubscribe(sub)
    assert stats["connections"] == 2  # carol's stream is globex's: not counted, not named
    assert stats["top_users"] == [{"email": "bob@example.com", "connections": 2}]
