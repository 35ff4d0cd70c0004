"""The embed API (CONTRACT §11): settings, the signed sign-in, the scoped token, CORS."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import TenantEmbed
from notifier.service import embed
from tests.factories import World, bearer, send

HOST = "https://shop.example"


def setup(client: FlaskClient, world: World, origins: list[str] | None = None) -> str:
    resp = client.put("/api/v1/embed", json={"origins": origins or [HOST]}, headers=world.admin_h)
    assert resp.status_code == 200, resp.get_json()
    return str(resp.get_json()["secret"])


def session(client: FlaskClient, email: str, digest: str, origin: str = HOST) -> object:
    return client.post(
        "/api/v1/embed/session", json={"email": email, "hash": digest}, headers={"Origin": origin}
    )


def test_admins_read_the_secret_and_set_origins_members_cannot(
    app: Flask, client: FlaskClient, world: World
) -> None:
    resp = client.get("/api/v1/embed", headers=world.admin_h)
    assert resp.status_code == 200
    secret = resp.get_json()["secret"]
    assert len(secret) >= 40 and resp.get_json()["origins"] == []
    assert client.get("/api/v1/embed", headers=world.admin_h).get_json()["secret"] == secret
    assert client.get("/api/v1/embed", headers=world.alice_h).status_code == 403
    resp = client.put(
        "/api/v1/embed", json={"origins": ["https://Shop.example/", HOST]}, headers=world.admin_h
    )
    assert resp.get_json()["origins"] == [HOST]
    for bad in (["javascript:alert(1)"], ["https://x.example/path"], "https://x", [1]):
        resp = client.put("/api/v1/embed", json={"origins": bad}, headers=world.admin_h)
        assert resp.status_code == 422 and "origins" in resp.get_json()["error"]["fields"]
    assert client.get("/api/v1/embed", headers=world.admin_h).get_json()["origins"] == [HOST]
    # Stored encrypted, not as the secret itself.
    with app.app_context():
        stored = db.session.scalar(select(TenantEmbed.secret_enc))
    assert stored and secret not in stored


def test_the_signed_session_gives_an_inbox_scoped_token(client: FlaskClient, world: World) -> None:
    secret = setup(client, world)
    nid = send(world.alice, "for the widget")
    resp = session(client, world.alice.email, embed.sign(secret, world.alice.email))
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"token", "stream_token", "expires_in"} and body["expires_in"] == 3600
    assert resp.headers["Access-Control-Allow-Origin"] == HOST
    h = bearer(body["token"])
    listed = client.get("/api/v1/notifications", headers=h)
    assert listed.status_code == 200
    assert [n["id"] for n in listed.get_json()["items"]] == [nid]
    resp = client.post(
        "/api/v1/notifications/bulk", json={"action": "read", "ids": [nid]}, headers=h
    )
    assert resp.status_code == 200 and resp.get_json()["updated"] == 1
    # Not publish, not admin, not the account.
    publish = {"email": world.bob.email, "type": "x", "title": "t", "channels": ["in_app"]}
    assert client.post("/api/v1/notifications", json=publish, headers=h).status_code == 403
    assert client.get("/api/v1/embed", headers=h).status_code == 403
    assert client.get("/api/v1/tokens", headers=h).get_json()["error"]["code"] == "token_scope"
    # Another tenant's secret signs nobody here.
    resp = session(client, world.carol.email, embed.sign(secret, world.carol.email))
    assert resp.status_code == 401


def test_a_wrong_hash_is_401_and_another_origin_is_refused(
    client: FlaskClient, world: World
) -> None:
    secret = setup(client, world)
    resp = session(client, world.alice.email, "0" * 64)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_hash"
    resp = session(client, "nobody@example.com", embed.sign(secret, "nobody@example.com"))
    assert resp.status_code == 401
    good = embed.sign(secret, world.alice.email)
    resp = session(client, world.alice.email, good, origin="https://evil.example")
    assert resp.status_code == 403 and "Access-Control-Allow-Origin" not in resp.headers
    # Preflight: answered for a listed origin only.
    ok = client.options(
        "/api/v1/embed/session",
        headers={"Origin": HOST, "Access-Control-Request-Method": "POST"},
    )
    assert ok.headers["Access-Control-Allow-Origin"] == HOST
    assert "Content-Type" in ok.headers["Access-Control-Allow-Headers"]
    bad = client.options(
        "/api/v1/embed/session",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in bad.headers
    # A stolen scoped token used from an unlisted origin gets no CORS either.
    token = session(client, world.alice.email, good).get_json()["token"]
    resp = client.get(
        "/api/v1/notifications", headers={**bearer(token), "Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in resp.headers
