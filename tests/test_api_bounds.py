"""Nothing a user owns grows without bound: preference types, API tokens, dashboard streams."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import db
from notifier.models import Preference
from notifier.service.preferences import MAX_TYPES
from tests.factories import World

PREFS = "/api/v1/preferences"
TOKENS = "/api/v1/tokens"


def types(start: int, count: int) -> dict[str, Any]:
    """Return ``count`` per-type settings named t<start>…, each a full channel matrix."""
    matrix = {"in_app": True, "email": False, "push": False, "sms": False}
    return {f"t{i:03d}": dict(matrix) for i in range(start, start + count)}


def stored_types(user_id: int) -> int:
    row = db.session.get(Preference, user_id)
    db.session.expire_all()
    return len((row.data if row else {}).get("types", {}))


# --- preferences ------------------------------------------------------------------------------


def test_patch_cannot_grow_the_preferences_past_the_cap(client: FlaskClient, world: World) -> None:
    for start in range(0, MAX_TYPES, 50):  # four merges of 50 new types each: all accepted
        resp = client.patch(PREFS, headers=world.alice_h, json={"types": types(start, 50)})
        assert resp.status_code == 200
    assert stored_types(world.alice.id) == MAX_TYPES

    resp = client.patch(PREFS, headers=world.alice_h, json={"types": types(MAX_TYPES, 1)})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {
        "types": f"at most {MAX_TYPES} types; PUT the whole document to drop some"
    }
    assert stored_types(world.alice.id) == MAX_TYPES  # nothing half-stored
    # Changing a type that is already there is still fine at the cap.
    known = {"t000": {"email": True}}
    assert client.patch(PREFS, headers=world.alice_h, json={"types": known}).status_code == 200
    # PUT replaces, so it is how a full document shrinks again.
    assert client.put(PREFS, headers=world.alice_h, json={"types": types(0, 3)}).status_code == 200
    assert stored_types(world.alice.id) == 3


def test_put_and_digest_are_capped_too(client: FlaskClient, world: World) -> None:
    too_many = {f"t{i:03d}": "daily" for i in range(MAX_TYPES + 1)}
    resp = client.put(PREFS, headers=world.alice_h, json={"digest": too_many})
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {"digest"}
    resp = client.put(PREFS, headers=world.alice_h, json={"types": types(0, MAX_TYPES + 1)})
    assert resp.status_code == 422
    assert db.session.get(Preference, world.alice.id) is None


# --- API tokens ---------------------------------------------------------------------------------


def test_tokens_per_user_are_capped_and_revoking_makes_room(
    app: Flask, client: FlaskClient, world: World
) -> None:
    app.config["NOTIFIER_MAX_TOKENS_PER_USER"] = 3  # alice already holds one (the fixture's)
    made = [client.post(TOKENS, headers=world.alice_h, json={"name": f"n{i}"}) for i in range(3)]
    assert [r.status_code for r in made] == [201, 201, 409]
    error = made[2].get_json()["error"]
    assert error["code"] == "too_many_tokens" and "at most 3" in error["message"]
    listed = client.get(TOKENS, headers=world.alice_h).get_json()["items"]
    assert len(listed) == 3
    # Another user has a cap of their own.
    assert client.post(TOKENS, headers=world.bob_h, json={"name": "b"}).status_code == 201

    first = made[0].get_json()["id"]
    assert client.delete(f"{TOKENS}/{first}", headers=world.alice_h).status_code == 204
    again = client.post(TOKENS, headers=world.alice_h, json={"name": "again"})
    assert again.status_code == 201
