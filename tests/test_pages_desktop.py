"""Desktop alerts, page side: the switch, and the CSRF-checked route for a push subscription."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import PushSubscription
from tests.conftest import AuthActions, make_app
from tests.factories import World, make_world
from tests.test_api_push import AUTH, ENDPOINT, P256DH


def test_inbox_has_the_switch_and_says_when_push_is_configured(
    app: Flask, world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    html = client.get("/").text
    assert '<input type="checkbox" id="desktop-alerts" role="switch">' in html
    assert "js/alerts.js" in html
    app.config.update(NOTIFIER_VAPID_PUBLIC_KEY="pub", NOTIFIER_VAPID_PRIVATE_KEY="priv")
    assert 'id="desktop-alerts" role="switch" data-push>' in client.get("/").text


def test_page_stores_its_push_subscription(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    doc = {"endpoint": ENDPOINT, "expirationTime": None, "keys": {"p256dh": P256DH, "auth": AUTH}}
    resp = client.post("/push/subscription", json=doc)
    assert resp.status_code == 201
    rows = db.session.execute(select(PushSubscription.user_id, PushSubscription.endpoint)).all()
    assert rows == [(world.alice.id, ENDPOINT)]
    bad = client.post("/push/subscription", json={**doc, "endpoint": "ftp://x"})
    assert bad.status_code == 422 and "endpoint" in bad.get_json()["error"]["fields"]
    assert client.post("/push/subscription", json={"endpoint": ENDPOINT}).status_code == 400


def test_push_subscription_needs_the_csrf_token(tmp_path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        make_world()
    client = app.test_client()
    login_page = client.get("/login").text
    import re

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
    client.post(
        "/login",
        data={"csrf_token": token, "email": "alice@example.com", "password": "password123"},
    )
    doc = {"endpoint": ENDPOINT, "keys": {"p256dh": P256DH, "auth": AUTH}}
    assert client.post("/push/subscription", json=doc).status_code == 400  # no X-CSRFToken
    page = client.get("/").text
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    resp = client.post("/push/subscription", json=doc, headers={"X-CSRFToken": meta})
    assert resp.status_code == 201
