"""REST API: /me, provisioning and listing users, API tokens, stream tokens."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from notifier.service import accounts
from tests.factories import World, bearer, make_user

ME = "/api/v1/me"
USERS = "/api/v1/users"
TOKENS = "/api/v1/tokens"


def test_me_shows_the_caller(client: FlaskClient, world: World) -> None:
    assert client.get(ME, headers=world.alice_h).get_json() == {
        "id": world.alice.id,
        "email": "alice@example.com",
        "role": "member",
        "tenant": "acme",
        "timezone": "UTC",
        "phone": None,
        "locale": "en",
    }
    assert client.get(ME, headers=world.carol_h).get_json()["tenant"] == "globex"


def test_patch_me_changes_timezone_and_phone(client: FlaskClient, world: World) -> None:
    resp = client.patch(
        ME, json={"timezone": "Europe/Paris", "phone": "+33612345678"}, headers=world.alice_h
    )
    assert resp.status_code == 200
    assert (resp.get_json()["timezone"], resp.get_json()["phone"]) == (
        "Europe/Paris",
        "+33612345678",
    )
    assert client.get(ME, headers=world.alice_h).get_json()["phone"] == "+33612345678"
    cleared = client.patch(ME, json={"phone": None}, headers=world.alice_h).get_json()
    assert cleared["phone"] is None and cleared["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"phone": "0612345678"}, "phone", "must be E.164, like +15551234567"),
        ({"phone": 33612345678}, "phone", "must be E.164, like +15551234567"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"email": "new@example.com"}, "email", "read-only"),
        ({"role": "admin"}, "role", "read-only"),
        ({"nickname": "al"}, "nickname", "unknown field"),
    ],
)
def test_patch_me_refuses_bad_and_readonly_fields(
    client: FlaskClient, world: World, body: dict[str, Any], field: str, message: str
) -> None:
    resp = client.patch(ME, json=body, headers=world.alice_h)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {field: message}
    me = client.get(ME, headers=world.alice_h).get_json()
    assert (me["email"], me["role"], me["timezone"], me["phone"]) == (
        "alice@example.com",
        "member",
        "UTC",
        None,
    )


def test_admin_creates_a_user_in_its_own_tenant(
    client: FlaskClient, world: World, auth: Any
) -> None:
    resp = client.post(
        USERS,
        headers=world.carol_h,
        json={
            "email": "Dave@Globex.com",
            "password": "s3cret-pass",
            "role": "admin",
            "timezone": "America/New_York",
            "phone": "+15551234567",
        },
    )
    assert resp.status_code == 201
    data = resp.get_json()
    assert isinstance(data["id"], int) and "password" not in data
    assert {k: v for k, v in data.items() if k != "id"} == {
        "email": "dave@globex.com",
        "role": "admin",
        "tenant": "globex",
        "timezone": "America/New_York",
        "phone": "+15551234567",
        "locale": "en",
    }
    assert auth.login("dave@globex.com", "s3cret-pass").status_code == 302


def test_a_generated_password_is_shown_once_and_works(
    client: FlaskClient, world: World, auth: Any
) -> None:
    data = client.post(USERS, headers=world.admin_h, json={"email": "eve@example.com"}).get_json()
    assert data["role"] == "member" and data["tenant"] == "acme" and len(data["password"]) >= 12
    assert auth.login("eve@example.com", data["password"]).status_code == 302


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"email": "alice@example.com"}, 409, "email_taken", "email"),
        ({"email": "carol@globex.com"}, 409, "email_taken", "email"),
        ({"email": "not-an-email"}, 422, "validation_error", "email"),
        ({}, 422, "validation_error", "email"),
        ({"email": "f@example.com", "role": "owner"}, 422, "validation_error", "role"),
        ({"email": "f@example.com", "role": 1}, 422, "validation_error", "role"),
        ({"email": "f@example.com", "password": "short"}, 422, "validation_error", "password"),
        ({"email": "f@example.com", "timezone": "Nowhere"}, 422, "validation_error", "timezone"),
        ({"email": "f@example.com", "phone": "555"}, 422, "validation_error", "phone"),
        ({"email": "f@example.com", "tenant": "globex"}, 422, "validation_error", "tenant"),
    ],
)
def test_bad_new_users(
    client: FlaskClient, world: World, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    resp = client.post(USERS, headers=world.admin_h, json=body)
    assert resp.status_code == status
    error = resp.get_json()["error"]
    assert error["code"] == code and field in error["fields"]
    emails = [u["email"] for u in client.get(USERS, headers=world.admin_h).get_json()["items"]]
    assert "f@example.com" not in emails


def test_users_list_pages_through_the_tenant_only(client: FlaskClient, world: World) -> None:
    extra = [make_user(f"user{i}@example.com").id for i in range(4)]
    seen: list[int] = []
    url = f"{USERS}?limit=2"
    while url:
        data = client.get(url, headers=world.admin_h).get_json()
        assert len(data["items"]) <= 2
        seen += [u["id"] for u in data["items"]]
        url = f"{USERS}?limit=2&before={data['next']}" if data["next"] else ""
    expected = [*extra[::-1], world.bob.id, world.alice.id, world.admin.id]
    assert seen == expected
    assert [u["email"] for u in client.get(USERS, headers=world.carol_h).get_json()["items"]] == [
        "carol@globex.com"
    ]


@pytest.mark.parametrize(("query", "status"), [("limit=0", 422), ("before=x", 400)])
def test_bad_users_queries(client: FlaskClient, world: World, query: str, status: int) -> None:
    assert client.get(f"{USERS}?{query}", headers=world.admin_h).status_code == status


def test_token_lifecycle(client: FlaskClient, world: World) -> None:
    created = client.post(TOKENS, json={"name": "ci"}, headers=world.alice_h)
    assert created.status_code == 201
    data = created.get_json()
    assert data["name"] == "ci" and data["token"].startswith("ntf_")
    assert client.get(ME, headers=bearer(data["token"])).get_json()["id"] == world.alice.id

    items = client.get(TOKENS, headers=world.alice_h).get_json()["items"]
    assert [t["name"] for t in items] == ["ci", "default"]
    ci = items[0]
    assert ci["id"] == data["id"] and data["token"].startswith(ci["prefix"])
    assert ci["revoked"] is False and ci["created_at"].endswith("Z")
    assert ci["last_used_at"].endswith("Z")
    assert set(ci) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked"}

    assert client.delete(f"{TOKENS}/{ci['id']}", headers=world.alice_h).status_code == 204
    assert client.get(ME, headers=bearer(data["token"])).status_code == 401
    listed = client.get(TOKENS, headers=world.alice_h).get_json()["items"]
    assert listed[0]["revoked"] is True
    assert client.get(TOKENS, headers=world.bob_h).get_json()["items"][0]["name"] == "default"


def test_someone_elses_token_cannot_be_revoked(client: FlaskClient, world: World) -> None:
    bobs = client.get(TOKENS, headers=world.bob_h).get_json()["items"][0]["id"]
    for headers in (world.alice_h, world.carol_h, world.admin_h):
        resp = client.delete(f"{TOKENS}/{bobs}", headers=headers)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert client.get(ME, headers=world.bob_h).status_code == 200


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": 7}, {"name": "x" * 101}, {"name": "ok", "scopes": ["all"]}]
)
def test_bad_token_requests(client: FlaskClient, world: World, body: dict[str, Any]) -> None:
    resp = client.post(TOKENS, json=body, headers=world.alice_h)
    assert resp.status_code == 422


def test_stream_token_identifies_the_caller(client: FlaskClient, world: World) -> None:
    resp = client.post("/api/v1/stream-token", headers=world.alice_h)
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["expires_in"] == 3600
    assert accounts.user_for_stream_token(data["token"]).id == world.alice.id
    # A stream token is not an API token.
    assert client.get(ME, headers=bearer(data["token"])).status_code == 401
