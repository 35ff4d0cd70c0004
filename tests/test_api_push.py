"""Test the Web Push API (VAPID key, subscribe, unsubscribe) and the service behind it."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from notifier.channels.push import generate_vapid_keys
from notifier.extensions import db
from notifier.models import PushSubscription
from notifier.service import NotFound, ValidationError
from notifier.service import push as push_svc
from tests.conftest import AuthActions
from tests.factories import World

ENDPOINT = "https://push.example.net/wpush/v2/gAAAAABk-abc"
URL = "/api/v1/push/subscriptions"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


P256DH = b64url(b"\x04" + os.urandom(64))
AUTH = b64url(os.urandom(16))


def body(endpoint: str = ENDPOINT, p256dh: str = P256DH, auth: str = AUTH) -> dict[str, Any]:
    """A subscription as PushSubscription.toJSON() gives it."""
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": p256dh, "auth": auth}}


def stored() -> list[tuple[int, int, str, str]]:
    rows = db.session.scalars(
        select(PushSubscription)
        .order_by(PushSubscription.id)
        .execution_options(populate_existing=True)
    )
    return [(r.id, r.user_id, r.endpoint, r.p256dh) for r in rows]


# --- VAPID key -------------------------------------------------------------------------------


def test_vapid_public_key(app: Flask, client: FlaskClient, world: World) -> None:
    public, private = generate_vapid_keys()
    app.config.update(NOTIFIER_VAPID_PUBLIC_KEY=public, NOTIFIER_VAPID_PRIVATE_KEY=private)

    resp = client.get("/api/v1/push/vapid-public-key", headers=world.alice_h)

    assert resp.status_code == 200
    assert resp.get_json() == {"key": public}


def test_vapid_public_key_is_404_when_push_is_off(client: FlaskClient, world: World) -> None:
    resp = client.get("/api/v1/push/vapid-public-key", headers=world.alice_h)

    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


# --- subscribe -------------------------------------------------------------------------------


def test_subscribe_stores_the_subscription(client: FlaskClient, world: World) -> None:
    resp = client.post(URL, json=body(), headers=world.alice_h)

    assert resp.status_code == 201
    sid = resp.get_json()["id"]
    assert stored() == [(sid, world.alice.id, ENDPOINT, P256DH)]


def test_resubscribing_an_endpoint_updates_its_keys(client: FlaskClient, world: World) -> None:
    first = client.post(URL, json=body(), headers=world.alice_h).get_json()["id"]
    new_key = b64url(b"\x04" + os.urandom(64))

    again = client.post(URL, json=body(p256dh=new_key), headers=world.alice_h)
    assert again.status_code == 201 and again.get_json() == {"id": first}
    assert stored() == [(first, world.alice.id, ENDPOINT, new_key)]


@pytest.mark.parametrize("who", ["carol", "bob"], ids=["other-tenant", "same-tenant"])
def test_someone_elses_endpoint_is_neither_taken_over_nor_revealed(
    client: FlaskClient, world: World, who: str
) -> None:
    alices = client.post(URL, json=body(), headers=world.alice_h).get_json()["id"]
    other, headers = getattr(world, who), getattr(world, f"{who}_h")
    attacker_keys = {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))}

    taken = client.post(URL, json=body(**attacker_keys), headers=headers)
    fresh = client.post(URL, json=body(endpoint=ENDPOINT + "-new"), headers=headers)

    # The answer to a known endpoint is the answer to a never-seen one: 201 and an id of one's own.
    assert (taken.status_code, fresh.status_code) == (201, 201)
    assert set(taken.get_json()) == set(fresh.get_json()) == {"id"}
    assert taken.get_json()["id"] not in (alices, fresh.get_json()["id"])
    # Alice's row still has her keys and still sends her pushes to her browser.
    rows = stored()
    assert rows[0] == (alices, world.alice.id, ENDPOINT, P256DH)
    assert rows[1] == (taken.get_json()["id"], other.id, ENDPOINT, attacker_keys["p256dh"])
    # Removing their copy leaves hers alone.
    assert client.delete(f"{URL}/{taken.get_json()['id']}", headers=headers).status_code == 204
    assert [r[0] for r in stored()] == [alices, fresh.get_json()["id"]]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (body(endpoint="http://push.example.net/x"), "endpoint"),
        (body(endpoint="ftp://push.example.net/x"), "endpoint"),
        (body(endpoint="https://user:pw@push.example.net/x"), "endpoint"),
        (body(endpoint="https:///no-host"), "endpoint"),
        (body(endpoint="https://push.example.net/" + "a" * 2048), "endpoint"),
        ({"keys": {"p256dh": P256DH, "auth": AUTH}}, "endpoint"),
        (body(p256dh="not base64!"), "keys.p256dh"),
        (body(p256dh=b64url(b"\x04" + os.urandom(10))), "keys.p256dh"),
        (body(p256dh=b64url(b"\x02" + os.urandom(64))), "keys.p256dh"),
        (body(p256dh=base64.b64encode(b"\xfb" * 65).decode()), "keys.p256dh"),
        (body(auth=b64url(os.urandom(8))), "keys.auth"),
        (body(auth=123), "keys.auth"),
        ({"endpoint": ENDPOINT, "keys": "x"}, "keys"),
        ({"endpoint": ENDPOINT}, "keys"),
        ({**body(), "userVisibleOnly": True}, "userVisibleOnly"),
        (body() | {"keys": {"p256dh": P256DH, "auth": AUTH, "extra": "x"}}, "keys.extra"),
    ],
    ids=[
        "http",
        "ftp",
        "credentials",
        "no-host",
        "too-long",
        "no-endpoint",
        "p256dh-not-b64url",
        "p256dh-short",
        "p256dh-compressed",
        "p256dh-standard-b64",
        "auth-short",
        "auth-not-string",
        "keys-not-object",
        "keys-missing",
        "unknown-field",
        "unknown-key",
    ],
)
def test_subscribe_validates_each_field(
    client: FlaskClient, world: World, doc: dict[str, Any], field: str
) -> None:
    resp = client.post(URL, json=doc, headers=world.alice_h)

    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert stored() == []


def test_http_endpoints_are_allowed_in_development(
    app: Flask, client: FlaskClient, world: World
) -> None:
    app.config["NOTIFIER_WEBHOOK_ALLOW_PRIVATE"] = True

    resp = client.post(URL, json=body(endpoint="http://127.0.0.1:8080/push"), headers=world.alice_h)

    assert resp.status_code == 201


def test_padded_keys_are_accepted_and_stored_unpadded(client: FlaskClient, world: World) -> None:
    padded = base64.urlsafe_b64encode(b"\x04" + os.urandom(64)).decode()
    assert padded.endswith("=")

    resp = client.post(URL, json=body(p256dh=padded), headers=world.alice_h)

    assert resp.status_code == 201
    assert stored()[0][3] == padded.rstrip("=")


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [("{not json", "application/json", "invalid_json"), ("{}", "text/plain", None)],
)
def test_subscribe_rejects_bad_bodies(
    client: FlaskClient, world: World, data: str, content_type: str, code: str | None
) -> None:
    resp = client.post(URL, data=data, content_type=content_type, headers=world.alice_h)

    assert resp.status_code == 400
    if code:
        assert resp.get_json()["error"]["code"] == code


# --- unsubscribe -----------------------------------------------------------------------------


def test_unsubscribe_own(client: FlaskClient, world: World) -> None:
    sid = client.post(URL, json=body(), headers=world.alice_h).get_json()["id"]

    assert client.delete(f"{URL}/{sid}", headers=world.alice_h).status_code == 204
    assert stored() == []
    assert client.delete(f"{URL}/{sid}", headers=world.alice_h).status_code == 404


@pytest.mark.parametrize("who", ["bob_h", "admin_h", "carol_h"])
def test_unsubscribing_someone_elses_is_404(client: FlaskClient, world: World, who: str) -> None:
    sid = client.post(URL, json=body(), headers=world.alice_h).get_json()["id"]

    resp = client.delete(f"{URL}/{sid}", headers=getattr(world, who))

    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    assert len(stored()) == 1


# --- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/push/vapid-public-key"), ("post", URL), ("delete", f"{URL}/1")],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}], ids=["none", "bad"])
def test_every_route_needs_credentials(
    client: FlaskClient, world: World, method: str, path: str, headers: dict[str, str]
) -> None:
    resp = getattr(client, method)(path, json=body(), headers=headers)

    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] in ("unauthorized", "invalid_token")


def test_session_cookie_may_read_the_key_but_not_subscribe(
    app: Flask, client: FlaskClient, auth: AuthActions, world: World
) -> None:
    public, private = generate_vapid_keys()
    app.config.update(NOTIFIER_VAPID_PUBLIC_KEY=public, NOTIFIER_VAPID_PRIVATE_KEY=private)
    auth.login("alice@example.com")

    assert client.get("/api/v1/push/vapid-public-key").get_json() == {"key": public}
    # A cookie rides along on cross-site requests; the API accepts it for reads only.
    assert client.post(URL, json=body()).status_code == 401
    assert stored() == []


# --- the service functions the pages call ----------------------------------------------------


def test_service_subscribe_and_unsubscribe(world: World) -> None:
    row = push_svc.subscribe(world.alice, ENDPOINT, P256DH, AUTH)
    assert stored() == [(row.id, world.alice.id, ENDPOINT, P256DH)]

    with pytest.raises(NotFound):
        push_svc.unsubscribe(world.bob, row.id)
    with pytest.raises(ValidationError) as info:
        push_svc.subscribe(world.alice, "javascript:alert(1)", P256DH, AUTH)
    assert set(info.value.fields) == {"endpoint"}

    push_svc.unsubscribe(world.alice, row.id)
    assert stored() == []
