"""The fast lane (notifier.lane): what it answers looks and counts exactly like Flask's answer.

A publish with an ``Idempotency-Key`` always goes through Flask's view, one without it through
the lane; the pairs below send the same request both ways and compare what a client sees.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from notifier.extensions import db
from notifier.metrics import REGISTRY
from notifier.models import Notification
from tests.conftest import make_app
from tests.factories import World, make_world

URL = "/api/v1/notifications"


def body(user_id: int, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "type": "comment", "title": "Hi", "channels": ["in_app"], **extra}


def both_ways(client: FlaskClient, world: World, doc: dict[str, Any], key: str) -> tuple[Any, Any]:
    """Return (lane answer, Flask answer) to the same publish."""
    lane = client.post(URL, json=doc, headers=world.admin_h)
    flask = client.post(URL, json=doc, headers={**world.admin_h, "Idempotency-Key": key})
    return lane, flask


def count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Notification)) or 0)


def test_a_lane_publish_answers_like_the_view(client: FlaskClient, world: World) -> None:
    lane, flask = both_ways(client, world, body(world.alice.id), "k1")
    assert (lane.status_code, flask.status_code) == (201, 201)
    a, b = lane.get_json(), flask.get_json()
    assert a.keys() == b.keys() == {"notification", "result"}
    assert (
        a["result"] == b["result"] == {"success": True, "channels": {"in_app": True}, "errors": {}}
    )
    assert a["notification"].keys() == b["notification"].keys()
    assert a["notification"]["id"] + 1 == b["notification"]["id"]
    for name in ("Content-Type", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"):
        assert lane.headers[name] == flask.headers[name], name
    assert len(lane.headers["X-Request-ID"]) == 32
    listed = client.get(URL, headers=world.alice_h).get_json()["items"]
    assert [n["id"] for n in listed] == [b["notification"]["id"], a["notification"]["id"]]


def test_lane_refusals_are_the_views_refusals(client: FlaskClient, world: World) -> None:
    cases = [
        (body(world.alice.id, title=""), world.admin_h, 422),  # invalid body
        (body(world.carol.id), world.admin_h, 422),  # another tenant's user: unknown_recipient
        (body(world.alice.id), world.alice_h, 403),  # a member's token
        (body(world.alice.id), {"Authorization": "Bearer nope"}, 401),
    ]
    for i, (doc, headers, status) in enumerate(cases):
        lane = client.post(URL, json=doc, headers=headers)
        flask = client.post(URL, json=doc, headers={**headers, "Idempotency-Key": f"r{i}"})
        assert lane.status_code == flask.status_code == status, (i, lane.get_json())
        assert lane.get_json()["error"]["code"] == flask.get_json()["error"]["code"]
        assert lane.get_json()["error"].get("fields") == flask.get_json()["error"].get("fields")
    malformed = client.post(
        URL, data=b"{not json", headers={**world.admin_h, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "invalid_json"
    assert count() == 0


def test_lane_and_view_share_one_publish_limit(tmp_path: Any) -> None:
    app: Flask = make_app(
        f"sqlite:///{tmp_path / 'lane.sqlite'}",
        RATELIMIT_ENABLED=True,
        NOTIFIER_RATE_LIMIT_PUBLISH="2/minute",
    )
    with app.app_context():
        world = make_world()
        client = app.test_client()
        first = client.post(URL, json=body(world.alice.id), headers=world.admin_h)
        second = client.post(
            URL, json=body(world.alice.id), headers={**world.admin_h, "Idempotency-Key": "x"}
        )
        third = client.post(URL, json=body(world.alice.id), headers=world.admin_h)
        fourth = client.post(
            URL, json=body(world.alice.id), headers={**world.admin_h, "Idempotency-Key": "y"}
        )
        assert [r.status_code for r in (first, second, third, fourth)] == [201, 201, 429, 429]
        assert third.get_json()["error"]["code"] == "rate_limited"
        assert 1 <= int(third.headers["Retry-After"]) <= 60
        assert count() == 2
        db.session.remove()
        db.engine.dispose()


def test_lane_answers_are_counted_in_the_request_metrics(client: FlaskClient, world: World) -> None:
    labels = {"route": URL, "method": "POST", "status": "201"}
    before = REGISTRY.get_sample_value("notifier_http_requests_total", labels) or 0
    timed = {"route": URL, "method": "POST"}
    timed_before = (
        REGISTRY.get_sample_value("notifier_http_request_duration_seconds_count", timed) or 0
    )
    assert client.post(URL, json=body(world.alice.id), headers=world.admin_h).status_code == 201
    assert REGISTRY.get_sample_value("notifier_http_requests_total", labels) == before + 1
    after = REGISTRY.get_sample_value("notifier_http_request_duration_seconds_count", timed)
    assert after == timed_before + 1


def test_a_revoked_or_deactivated_caller_stops_publishing_at_once(
    client: FlaskClient, world: World
) -> None:
    from notifier.models import ApiToken
    from notifier.service import accounts, sessions

    assert client.post(URL, json=body(world.alice.id), headers=world.admin_h).status_code == 201
    second = accounts.create_token(world.admin, "second")
    second_h = {"Authorization": f"Bearer {second}"}
    assert client.post(URL, json=body(world.alice.id), headers=second_h).status_code == 201
    first_id = db.session.scalar(
        select(ApiToken.id).where(ApiToken.token_hash == accounts.digest(world.admin_token))
    )
    accounts.revoke_token(world.admin, first_id)
    assert client.post(URL, json=body(world.alice.id), headers=world.admin_h).status_code == 401
    assert client.post(URL, json=body(world.alice.id), headers=second_h).status_code == 201
    sessions.deactivate_user(world.admin)
    db.session.commit()
    assert client.post(URL, json=body(world.alice.id), headers=second_h).status_code == 401
    assert count() == 3
