"""REST API: tenant webhook endpoints (admin): create, list without secrets, delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import db
from tests.conftest import make_app
from tests.factories import World, make_world

URL = "/api/v1/webhooks"
# An IP literal resolves without DNS, so these tests need no network.
PUBLIC_URL = "https://93.184.216.34/hooks/notifier"


def test_webhook_crud(client: FlaskClient, world: World) -> None:
    resp = client.post(
        URL,
        json={"url": PUBLIC_URL, "types": ["deploy", "deploy", "billing"]},
        headers=world.admin_h,
    )
    assert resp.status_code == 201
    created = resp.get_json()
    assert created["url"] == PUBLIC_URL and created["types"] == ["deploy", "billing"]
    assert created["secret"].startswith("whsec_") and created["created_at"].endswith("Z")
    second = client.post(URL, json={"url": PUBLIC_URL + "/all"}, headers=world.admin_h)
    assert second.get_json()["types"] is None

    listed = client.get(URL, headers=world.admin_h).get_json()["items"]
    assert [w["id"] for w in listed] == [created["id"], second.get_json()["id"]]
    assert all("secret" not in w for w in listed)

    assert client.delete(f"{URL}/{created['id']}", headers=world.admin_h).status_code == 204
    assert [w["id"] for w in client.get(URL, headers=world.admin_h).get_json()["items"]] == [
        second.get_json()["id"]
    ]
    again = client.delete(f"{URL}/{created['id']}", headers=world.admin_h)
    assert again.status_code == 404


def test_tenants_do_not_see_each_others_webhooks(client: FlaskClient, world: World) -> None:
    hook = client.post(URL, json={"url": PUBLIC_URL}, headers=world.admin_h).get_json()
    assert client.get(URL, headers=world.carol_h).get_json() == {"items": []}
    resp = client.delete(f"{URL}/{hook['id']}", headers=world.carol_h)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert len(client.get(URL, headers=world.admin_h).get_json()["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:8080/hook"},
        {"url": "http://10.0.0.5/hook"},
        {"url": "http://[::1]/hook"},
        {"url": "ftp://93.184.216.34/hook"},
        {"url": "https://user:pw@93.184.216.34/hook"},
        {"url": "not a url"},
        {"url": ""},
        {"url": 42},
        {},
    ],
)
def test_bad_or_private_urls_are_422(
    client: FlaskClient, world: World, body: dict[str, Any]
) -> None:
    resp = client.post(URL, json=body, headers=world.admin_h)
    assert resp.status_code == 422
    assert "url" in resp.get_json()["error"]["fields"]
    assert client.get(URL, headers=world.admin_h).get_json() == {"items": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC_URL, "types": "deploy"}, "types"),
        ({"url": PUBLIC_URL, "types": ["has space"]}, "types"),
        ({"url": PUBLIC_URL, "secret": "mine"}, "secret"),
    ],
)
def test_bad_webhook_fields_are_422(
    client: FlaskClient, world: World, body: dict[str, Any], field: str
) -> None:
    resp = client.post(URL, json=body, headers=world.admin_h)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


@pytest.fixture
def private_ok_app(tmp_path: Any) -> Iterator[Flask]:
    """An app that allows webhooks on private addresses (development)."""
    app = make_app(f"sqlite:///{tmp_path / 'private.sqlite'}", NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_private_urls_are_allowed_when_configured(private_ok_app: Flask) -> None:
    world = make_world()
    client = private_ok_app.test_client()
    resp = client.post(URL, json={"url": "http://127.0.0.1:8080/hook"}, headers=world.admin_h)
    assert resp.status_code == 201
