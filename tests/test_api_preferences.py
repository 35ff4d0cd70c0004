"""REST API: preferences read, replace, merge, validation, and their effect on delivery."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import World

URL = "/api/v1/preferences"


def test_defaults(client: FlaskClient, world: World) -> None:
    prefs = client.get(URL, headers=world.alice_h).get_json()
    assert prefs["channels"] == {
        "in_app": True,
        "email": True,
        "push": True,
        "sms": False,
        "chat": True,
    }
    assert prefs["quiet_hours"] == {
        "enabled": False,
        "start": "22:00",
        "end": "07:00",
        "timezone": "UTC",
    }
    assert prefs["digest"] == {}
    assert prefs["types"]["security"]["in_app"] is True


def test_put_replaces_and_patch_merges(client: FlaskClient, world: World) -> None:
    doc = {
        "channels": {"email": False, "sms": True},
        "types": {"comment": {"email": False}},
        "quiet_hours": {
            "enabled": True,
            "start": "23:00",
            "end": "06:30",
            "timezone": "Europe/Paris",
        },
        "digest": {"comment": "daily"},
    }
    put = client.put(URL, json=doc, headers=world.alice_h)
    assert put.status_code == 200
    assert put.get_json() == client.get(URL, headers=world.alice_h).get_json()
    assert put.get_json()["quiet_hours"]["timezone"] == "Europe/Paris"
    assert put.get_json()["channels"] == {
        "in_app": True,
        "email": False,
        "push": True,
        "sms": True,
        "chat": True,
    }

    patched = client.patch(
        URL,
        json={"types": {"mention": {"push": False}}, "digest": {"comment": "hourly"}},
        headers=world.alice_h,
    ).get_json()
    assert patched["types"]["comment"] == {"email": False}
    assert patched["types"]["mention"] == {"push": False}
    assert patched["digest"] == {"comment": "hourly"}
    assert patched["quiet_hours"]["enabled"] is True

    replaced = client.put(
        URL, json={"digest": {"mention": "daily"}}, headers=world.alice_h
    ).get_json()
    assert replaced["channels"]["email"] is True  # left out: back to the default
    assert "comment" not in replaced["types"] and replaced["quiet_hours"]["enabled"] is False
    assert client.get(URL, headers=world.bob_h).get_json()["digest"] == {}


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("put", {"types": {"security": {"in_app": False}}}, "types.security.in_app"),
        ("patch", {"types": {"security": {"in_app": False}}}, "types.security.in_app"),
        ("patch", {"channels": {"sms": "yes"}}, "channels.sms"),
        ("patch", {"channels": {"fax": True}}, "channels.fax"),
        ("patch", {"quiet_hours": {"start": "25:00"}}, "quiet_hours.start"),
        ("patch", {"quiet_hours": {"timezone": "Mars/Olympus"}}, "quiet_hours.timezone"),
        ("patch", {"digest": {"comment": "weekly"}}, "digest.comment"),
        ("patch", {"theme": "dark"}, "theme"),
        ("put", {"channels": []}, "channels"),
    ],
)
def test_invalid_preferences_are_422_and_change_nothing(
    client: FlaskClient, world: World, method: str, body: dict[str, Any], field: str
) -> None:
    before = client.get(URL, headers=world.alice_h).get_json()
    resp = getattr(client, method)(URL, json=body, headers=world.alice_h)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert client.get(URL, headers=world.alice_h).get_json() == before


def test_malformed_preferences_body_is_400(client: FlaskClient, world: World) -> None:
    resp = client.put(URL, data="{", content_type="application/json", headers=world.alice_h)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_json"


def test_switching_a_type_off_keeps_it_out_of_the_inbox(client: FlaskClient, world: World) -> None:
    client.patch(URL, json={"types": {"comment": {"in_app": False}}}, headers=world.alice_h)
    resp = client.post(
        "/api/v1/notifications",
        headers=world.admin_h,
        json={
            "user_id": world.alice.id,
            "type": "comment",
            "title": "muted",
            "channels": ["in_app"],
        },
    )
    assert resp.status_code == 201
    data = resp.get_json()
    assert data["notification"] is None
    assert data["result"]["success"] is False and "in_app" in data["result"]["errors"]
    security = client.post(
        "/api/v1/notifications",
        headers=world.admin_h,
        json={
            "user_id": world.alice.id,
            "type": "security",
            "title": "new login",
            "channels": ["in_app"],
        },
    )
    assert security.get_json()["notification"]["title"] == "new login"
