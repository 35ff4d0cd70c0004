"""REST API: credentials, roles, tenant isolation, probes and error shapes."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import World, send

URL = "/api/v1/notifications"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "unauthorized"),
        ("Bearer", "invalid_token"),
        ("Bearer    ", "invalid_token"),
        ("Bearer ntf_not-a-real-token", "invalid_token"),
        ("Bearer something-else", "invalid_token"),
        ("Basic YWxpY2U6cGFzc3dvcmQxMjM=", "invalid_token"),
        ("Token {alice}", "invalid_token"),
    ],
)
def test_missing_or_bad_credentials_are_401(
    client: FlaskClient, world: World, header: str | None, code: str
) -> None:
    headers = {} if header is None else {"Authorization": header.format(alice=world.alice_token)}
    resp = client.get(URL, headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == code
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(client: FlaskClient, world: World) -> None:
    assert client.get("/api/v1/me", headers=world.alice_h).status_code == 200
    tokens = client.get("/api/v1/tokens", headers=world.alice_h).get_json()["items"]
    assert (
        client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=world.alice_h).status_code == 204
    )
    resp = client.get("/api/v1/me", headers=world.alice_h)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", URL, {"user_id": 1, "type": "comment", "title": "x"}),
        ("post", "/api/v1/users", {"email": "new@example.com"}),
        ("get", "/api/v1/users", None),
        ("post", "/api/v1/webhooks", {"url": "https://93.184.216.34/hook"}),
        ("get", "/api/v1/webhooks", None),
        ("delete", "/api/v1/webhooks/1", None),
    ],
)
def test_members_get_403_on_admin_routes(
    client: FlaskClient, world: World, method: str, path: str, body: Any
) -> None:
    resp = getattr(client, method)(path, headers=world.alice_h, json=body)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("intruder", ["bob", "carol"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", "/read"), ("put", "/read"), ("post", "/unread"), ("delete", "")],
)
def test_someone_elses_notification_is_404(
    client: FlaskClient, world: World, intruder: str, method: str, suffix: str
) -> None:
    nid = send(world.alice, "private")
    headers = getattr(world, f"{intruder}_h")
    resp = getattr(client, method)(f"{URL}/{nid}{suffix}", headers=headers)
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    mine = client.get(f"{URL}/{nid}", headers=world.alice_h).get_json()
    assert mine["is_read"] is False


def test_other_tenants_admin_cannot_target_acme(client: FlaskClient, world: World) -> None:
    for recipient in (
        {"user_id": world.alice.id},
        {"email": "alice@example.com"},
        {"user_ids": [world.alice.id]},
    ):
        resp = client.post(
            URL, headers=world.carol_h, json={**recipient, "type": "comment", "title": "hi"}
        )
        assert resp.status_code == 422
        assert resp.get_json()["error"]["code"] == "unknown_recipient"
    assert client.get(URL, headers=world.alice_h).get_json()["total"] == 0
    resp = client.post(
        URL,
        headers=world.carol_h,
        json={"tenant": True, "type": "comment", "title": "hi", "channels": ["in_app"]},
    )
    assert resp.get_json()["count"] == 1
    assert client.get(URL, headers=world.alice_h).get_json()["total"] == 0


def test_session_cookie_reads_but_cannot_write(
    client: FlaskClient, world: World, auth: Any
) -> None:
    send(world.alice, "hello")
    assert auth.login().status_code == 302
    assert client.get(URL).get_json()["total"] == 1
    resp = client.post(f"{URL}/read-all")
    assert resp.status_code == 401  # no CSRF on the API, so cookies never authorise writes
    assert client.get(f"{URL}/stats").get_json()["unread"] == 1


def test_unknown_route_and_method_answer_json(client: FlaskClient, world: World) -> None:
    resp = client.get("/api/v1/nope", headers=world.alice_h)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.patch(f"{URL}/stats", headers=world.alice_h)
    assert resp.status_code == 405
    assert resp.get_json()["error"]["code"] == "method_not_allowed"


def test_health_probes(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok"
