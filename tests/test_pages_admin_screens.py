"""Admin screens: users, API tokens, webhooks & chat, scheduled sends (server-rendered, CSRF)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from notifier.delivery import tick
from notifier.extensions import db
from notifier.models import (
    ApiToken,
    ChatIntegration,
    Delivery,
    ScheduledNotification,
    User,
    UserSession,
    utcnow,
)
from notifier.service import accounts, schedule, sessions
from notifier.service.content import validate_content
from tests.conftest import AuthActions, make_app
from tests.factories import World, make_world
from tests.fixtures_receivers import HttpReceiver

HX = {"HX-Request": "true"}
PAGES = ["/admin/users", "/admin/tokens", "/admin/integrations", "/admin/scheduled"]
POSTS = [
    "/admin/users",
    "/admin/users/1/deactivate",
    "/admin/users/1/reactivate",
    "/admin/users/1/password",
    "/admin/users/1/erase",
    "/admin/tokens",
    "/admin/tokens/1/revoke",
    "/admin/webhooks",
    "/admin/webhooks/1/test",
    "/admin/webhooks/1/delete",
    "/admin/chat",
    "/admin/chat/1/test",
    "/admin/chat/1/delete",
    "/admin/scheduled/1/cancel",
    "/admin/scheduled/1/retry",
    "/admin/scheduled/1/dismiss",
]


@pytest.mark.parametrize("path", [*PAGES, "/admin/integrations/deliveries"])
def test_members_get_404_and_visitors_login(
    world: World, client: FlaskClient, auth: AuthActions, path: str
) -> None:
    assert client.get(path).status_code in (302, 401)
    auth.login("bob@example.com")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", POSTS)
def test_members_cannot_post(
    world: World, client: FlaskClient, auth: AuthActions, path: str
) -> None:
    auth.login("bob@example.com")
    assert client.post(path).status_code == 404


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_with_the_section_nav(
    world: World, client: FlaskClient, auth: AuthActions, path: str
) -> None:
    auth.login("admin@example.com")
    page = client.get(path)
    assert page.status_code == 200
    assert re.search(rf'<a href="{path}" aria-current="page">', page.text)
    assert "admin-screens.css" in page.text


def test_dashboard_links_the_screens(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    page = client.get("/admin").text
    for path in PAGES:
        assert f'href="{path}"' in page


# --- users -----------------------------------------------------------------------------------


def test_create_user_with_a_password(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    resp = client.post(
        "/admin/users",
        data={"email": "Dana@Example.com", "password": "s3cret-pass", "role": "member"},
    )
    assert resp.status_code == 201 and "Created dana@example.com." in resp.text
    dana = db.session.scalar(select(User).where(User.email == "dana@example.com"))
    assert dana is not None and dana.tenant_id == world.acme.id
    assert accounts.check_login("dana@example.com", "s3cret-pass") is not None
    assert "dana@example.com" in client.get("/admin/users").text


def test_create_user_generates_a_password_shown_once(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    resp = client.post("/admin/users", data={"email": "erin@example.com", "role": "admin"})
    secret = re.search(r'id="shown-secret"[^>]*value="([^"]+)"', resp.text)
    assert secret is not None
    assert accounts.check_login("erin@example.com", secret.group(1)) is not None
    assert secret.group(1) not in client.get("/admin/users").text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "alice@example.com"}, "already registered"),
        ({"email": "not-an-email"}, ""),
        ({"email": "x@example.com", "password": "short"}, "8"),
    ],
)
def test_bad_new_users_are_422(
    world: World, client: FlaskClient, auth: AuthActions, data: dict[str, str], message: str
) -> None:
    auth.login("admin@example.com")
    before = db.session.query(User).count()
    resp = client.post("/admin/users", data={"role": "member", **data})
    assert resp.status_code == 422 and 'aria-invalid="true"' in resp.text
    assert message in resp.text
    assert db.session.query(User).count() == before


def test_deactivate_and_reactivate(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    resp = client.post(f"/admin/users/{world.alice.id}/deactivate", headers=HX)
    assert resp.status_code == 200 and "Deactivated" in resp.text and "Reactivate" in resp.text
    assert accounts.user_for_token(world.alice_token) is None
    assert client.get("/api/v1/me", headers=world.alice_h).status_code == 401

    resp = client.post(f"/admin/users/{world.alice.id}/reactivate")
    assert resp.status_code == 302
    assert accounts.user_for_token(world.alice_token) is not None


def test_admin_cannot_deactivate_themself_or_other_tenants(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    assert client.post(f"/admin/users/{world.admin.id}/deactivate").status_code == 409
    assert client.post(f"/admin/users/{world.carol.id}/deactivate").status_code == 404
    assert client.post(f"/admin/users/{world.carol.id}/password").status_code == 404
    assert db.session.get(User, world.carol.id).active is True


def test_reset_password_ends_sign_ins(world: World, client: FlaskClient, auth: AuthActions) -> None:
    session_id = sessions.start_session(world.alice).id  # alice, signed in elsewhere
    auth.login("admin@example.com")

    resp = client.post(f"/admin/users/{world.alice.id}/password", data={"password": "brand-new-pw"})

    assert resp.status_code == 200 and "sign-ins ended" in resp.text
    assert accounts.check_login("alice@example.com", "brand-new-pw") is not None
    assert db.session.get(UserSession, session_id) is None


def test_reset_password_can_generate_one(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    resp = client.post(f"/admin/users/{world.bob.id}/password", data={"password": ""})
    secret = re.search(r'id="shown-secret"[^>]*value="([^"]+)"', resp.text).group(1)
    assert accounts.check_login("bob@example.com", secret) is not None


# --- tokens ----------------------------------------------------------------------------------


def test_tokens_create_once_list_and_revoke(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    resp = client.post("/admin/tokens", data={"user_id": world.bob.id, "name": "ci"})
    assert resp.status_code == 201
    token = re.search(r'id="shown-secret"[^>]*value="(ntf_[^"]+)"', resp.text).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = client.get("/admin/tokens").text
    assert token not in listing and "bob@example.com" in listing
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "ci"))

    resp = client.post(f"/admin/tokens/{row.id}/revoke", headers=HX)

    assert resp.status_code == 200 and "Revoked" in resp.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_tokens_stay_in_the_tenant(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    assert "carol@globex.com" not in client.get("/admin/tokens").text
    resp = client.post("/admin/tokens", data={"user_id": world.carol.id, "name": "x"})
    assert resp.status_code == 422  # not a choice on this tenant's form
    carol_token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == world.carol.id))
    assert client.post(f"/admin/tokens/{carol_token.id}/revoke").status_code == 404
    assert accounts.user_for_token(world.carol_token) is not None


# --- webhooks and chat -----------------------------------------------------------------------


@pytest.fixture
def hook_app(tmp_path: Any) -> Iterator[Flask]:
    app = make_app(f"sqlite:///{tmp_path / 'hooks.sqlite'}", NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_chat_integration_add_test_and_deliveries(
    hook_app: Flask, http_receiver: HttpReceiver
) -> None:
    make_world()
    client = hook_app.test_client()
    AuthActions(client).login("admin@example.com")
    url = http_receiver.url("/services/T1/B2/very-secret-part")

    resp = client.post(
        "/admin/chat", data={"chat-kind": "slack", "chat-url": url, "chat-types": "deploy, ci"}
    )
    assert resp.status_code == 302
    page = client.get("/admin/integrations").text
    assert "very-secret-part" not in page and "…part" in page
    [row] = db.session.scalars(select(ChatIntegration))
    assert row.types == ["deploy", "ci"]

    assert client.post(f"/admin/chat/{row.id}/test").status_code == 302
    tick(hook_app)

    [req] = http_receiver.requests
    assert req.json()["attachments"][0]["blocks"][0]["text"]["text"] == "Test message from Notifier"
    panel = client.get("/admin/integrations/deliveries", headers=HX).text
    assert f'id="chat-deliveries-{row.id}"' in panel and "pill-sent" in panel


def test_webhook_add_shows_secret_once_and_test_failure_shows(
    hook_app: Flask, http_receiver: HttpReceiver
) -> None:
    make_world()
    client = hook_app.test_client()
    AuthActions(client).login("admin@example.com")
    http_receiver.script(500)

    resp = client.post(
        "/admin/webhooks", data={"hook-url": http_receiver.url("/wh"), "hook-types": ""}
    )
    assert resp.status_code == 201
    secret = re.search(r'id="shown-secret"[^>]*value="(whsec_[^"]+)"', resp.text).group(1)
    assert secret not in client.get("/admin/integrations").text
    hook_id = db.session.scalar(select(Delivery.webhook_id)) or 1

    client.post(f"/admin/webhooks/{hook_id}/test")
    tick(hook_app)

    panel = client.get("/admin/integrations").text
    assert "pill-pending" in panel and "webhook endpoint answered 500" in panel


def test_bad_endpoints_are_422(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    bad_chat = client.post(
        "/admin/chat", data={"chat-kind": "slack", "chat-url": "https://127.0.0.1/x"}
    )
    assert bad_chat.status_code == 422 and "non-public" in bad_chat.text
    bad_hook = client.post("/admin/webhooks", data={"hook-url": "ftp://x", "hook-types": "a b"})
    assert bad_hook.status_code == 422
    assert db.session.query(ChatIntegration).count() == 0


def test_other_tenants_endpoints_are_404(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    theirs = ChatIntegration(tenant_id=world.globex.id, kind="slack", url="https://93.184.216.34/x")
    db.session.add(theirs)
    db.session.commit()
    auth.login("admin@example.com")
    assert client.post(f"/admin/chat/{theirs.id}/test").status_code == 404
    assert client.post(f"/admin/chat/{theirs.id}/delete").status_code == 404
    assert db.session.get(ChatIntegration, theirs.id).deleted_at is None
    assert db.session.query(Delivery).count() == 0


# --- scheduled -------------------------------------------------------------------------------


def scheduled(world: World, title: str) -> int:
    content = validate_content(
        {"type": "digest", "title": title, "send_at": (utcnow() + timedelta(hours=2)).isoformat()}
    )
    return int(schedule.schedule(world.acme.id, content, [world.alice.id], None).scheduled_id)


def test_scheduled_cancel_retry_dismiss(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    keep, cancel, retry, dismiss = (
        scheduled(world, t) for t in ("Keep", "Cancel", "Retry", "Dismiss")
    )
    db.session.execute(
        update(ScheduledNotification)
        .where(ScheduledNotification.id.in_([retry, dismiss]))
        .values(status="failed", error="template vanished", failed_at=utcnow())
    )
    db.session.commit()
    auth.login("admin@example.com")
    page = client.get("/admin/scheduled").text
    assert all(t in page for t in ("Keep", "Cancel", "Retry", "Dismiss", "template vanished"))

    for path in (f"{cancel}/cancel", f"{retry}/retry", f"{dismiss}/dismiss"):
        assert client.post(f"/admin/scheduled/{path}").status_code == 302

    status = dict(
        db.session.execute(select(ScheduledNotification.id, ScheduledNotification.status)).all()
    )
    assert status == {
        keep: "scheduled",
        cancel: "cancelled",
        retry: "scheduled",
        dismiss: "dismissed",
    }
    page = client.get("/admin/scheduled").text
    assert f'id="scheduled-{cancel}"' not in page and f'id="scheduled-{dismiss}"' not in page
    again = client.post(f"/admin/scheduled/{cancel}/cancel", follow_redirects=True)
    assert "nothing done" in again.text


def test_scheduled_of_other_tenants_are_404(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    sid = scheduled(world, "Mine")
    carol_client = client.application.test_client()
    AuthActions(carol_client).login("carol@globex.com")
    assert "Mine" not in carol_client.get("/admin/scheduled").text
    assert carol_client.post(f"/admin/scheduled/{sid}/cancel").status_code == 404
    assert db.session.get(ScheduledNotification, sid).status == "scheduled"


# --- CSRF ------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(tmp_path: Any) -> Iterator[Flask]:
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_every_admin_form_needs_its_csrf_token(csrf_app: Flask) -> None:
    world = make_world()
    client = csrf_app.test_client()
    login = client.get("/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    data = {"csrf_token": token, "email": "admin@example.com", "password": "password123"}
    assert client.post("/login", data=data).status_code == 302
    for path in PAGES:
        page = client.get(path).text
        forms = re.findall(r"<form\b.*?</form>", page, flags=re.S)
        posting = [f for f in forms if 'method="post"' in f]
        assert posting and all("csrf_token" in f for f in posting), path
    for path in (f"/admin/users/{world.alice.id}/deactivate", "/admin/tokens", "/admin/chat"):
        assert client.post(path, data={"name": "x"}).status_code == 400
    assert db.session.get(User, world.alice.id).active is True
