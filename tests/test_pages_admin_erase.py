"""The admin users screen exports a user's data and erases a user after a typed confirmation."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import func, select

from notifier.extensions import db
from notifier.models import AuditEntry, Notification, User
from notifier.service import notify
from notifier.service.content import validate_content
from tests.conftest import AuthActions
from tests.factories import World


def _send(world: World, title: str) -> None:
    content = validate_content({"type": "comment", "title": title, "channels": ["in_app"]})
    notify.notify(world.acme.id, content, [world.alice.id, world.bob.id], sender_id=None)


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


def test_users_screen_links_export_and_erase_but_not_erasing_oneself(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    page = client.get("/admin/users").text
    assert f'href="/admin/users/{world.alice.id}/erase"' in page
    assert f'href="/admin/users/{world.alice.id}/export"' in page
    assert f'href="/admin/users/{world.admin.id}/erase"' not in page
    assert client.get(f"/admin/users/{world.admin.id}/erase").status_code == 404


def test_export_downloads_the_users_data_and_is_audited(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    _send(world, "Report 7 is ready")
    auth.login("admin@example.com")
    resp = client.get(f"/admin/users/{world.alice.id}/export")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    doc = json.loads(resp.data)
    assert doc["account"]["email"] == "alice@example.com"
    assert [n["title"] for n in doc["notifications"]] == ["Report 7 is ready"]
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_erase_needs_the_typed_email_then_removes_the_user_and_their_rows(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    _send(world, "Deploy finished")
    alice_id, bob_id = world.alice.id, world.bob.id
    auth.login("admin@example.com")
    page = client.get(f"/admin/users/{alice_id}/erase").text
    assert "Type <strong>alice@example.com</strong> to confirm" in page
    wrong = client.post(
        f"/admin/users/{alice_id}/erase", data={"csrf_token": _csrf(page), "confirm": "bob"}
    )
    assert wrong.status_code == 422 and "Type the user&#39;s email exactly" in wrong.text
    assert db.session.get(User, alice_id) is not None
    done = client.post(
        f"/admin/users/{alice_id}/erase",
        data={"csrf_token": _csrf(page), "confirm": "Alice@example.com"},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "alice@example.com was erased" in done.text
    db.session.expire_all()
    assert db.session.get(User, alice_id) is None
    owners = db.session.scalars(select(Notification.user_id)).all()
    assert alice_id not in owners and bob_id in owners  # only hers went
    audit = db.session.scalars(select(AuditEntry)).all()
    assert [a.action for a in audit] == ["erase_user"]
    assert "alice" not in audit[0].subject and str(alice_id) != audit[0].subject


def test_erase_stays_in_the_tenant(world: World, client: FlaskClient, auth: AuthActions) -> None:
    # CSRF: /admin/users/<id>/erase is in test_pages_admin_screens.POSTS, checked with CSRF on.
    auth.login("admin@example.com")
    assert client.get(f"/admin/users/{world.carol.id}/erase").status_code == 404
    assert client.get(f"/admin/users/{world.carol.id}/export").status_code == 404
    page = client.get(f"/admin/users/{world.alice.id}/erase").text
    other = client.post(
        f"/admin/users/{world.carol.id}/erase",
        data={"csrf_token": _csrf(page), "confirm": "carol@globex.example"},
    )
    assert other.status_code == 404 and db.session.get(User, world.carol.id) is not None
