"""REST API: publishing notifications (admin): recipients, results, scheduling, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from notifier.extensions import db
from notifier.models import Notification, ScheduledNotification
from tests.factories import World

URL = "/api/v1/notifications"


def stored() -> tuple[int, int]:
    """Return how many notifications and scheduled sends exist."""
    n = db.session.scalar(select(func.count()).select_from(Notification))
    s = db.session.scalar(select(func.count()).select_from(ScheduledNotification))
    return int(n or 0), int(s or 0)


def publish(client: FlaskClient, world: World, **body: Any) -> Any:
    """Post a comment notification as the acme admin with ``body`` on top."""
    return client.post(
        URL, json={"type": "comment", "title": "Hello", **body}, headers=world.admin_h
    )


def test_publish_to_one_user_returns_the_notification(client: FlaskClient, world: World) -> None:
    resp = publish(
        client,
        world,
        user_id=world.alice.id,
        body="Build #7 passed",
        priority="high",
        entity_type="build",
        entity_id=7,
        url="/builds/7",
        tags=["ci", "main"],
        channels=["in_app"],
    )
    assert resp.status_code == 201
    data = resp.get_json()
    n = data["notification"]
    assert n["title"] == "Hello" and n["body"] == "Build #7 passed"
    assert (n["priority"], n["entity_type"], n["entity_id"]) == ("high", "build", "7")
    assert n["tags"] == ["ci", "main"] and n["is_read"] is False and n["read_at"] is None
    assert isinstance(n["id"], int) and n["created_at"].endswith("Z")
    datetime.fromisoformat(n["created_at"].replace("Z", "+00:00"))
    assert data["result"] == {"success": True, "channels": {"in_app": True}, "errors": {}}
    listed = client.get(URL, headers=world.alice_h).get_json()["items"]
    assert listed == [n]


def test_publish_by_email_is_one_recipient(client: FlaskClient, world: World) -> None:
    resp = publish(client, world, email="BOB@example.com", channels=["in_app"])
    assert resp.status_code == 201
    assert (
        client.get(URL, headers=world.bob_h).get_json()["items"][0]["id"]
        == (resp.get_json()["notification"]["id"])
    )


def test_publish_to_a_list_and_to_the_tenant(client: FlaskClient, world: World) -> None:
    resp = publish(
        client, world, user_ids=[world.alice.id, world.bob.id, world.alice.id], channels=["in_app"]
    )
    assert resp.status_code == 201
    data = resp.get_json()
    assert data["count"] == 2 and len(data["ids"]) == 2 and data["result"]["success"] is True
    resp = publish(client, world, tenant=True, channels=["in_app"])
    assert resp.status_code == 201 and resp.get_json()["count"] == 3  # admin, alice, bob
    carol_inbox = client.get(URL, headers=world.carol_h).get_json()
    assert carol_inbox["total"] == 0


def test_result_reports_channels_that_could_not_deliver(client: FlaskClient, world: World) -> None:
    result = publish(client, world, user_id=world.alice.id).get_json()["result"]
    assert result["success"] is True and result["channels"]["in_app"] is True
    assert result["channels"]["email"] is False
    assert result["errors"]["email"] == "email channel is not configured"


def test_future_send_at_is_scheduled_with_202(client: FlaskClient, world: World) -> None:
    when = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    resp = publish(client, world, user_id=world.alice.id, send_at=when.isoformat())
    assert resp.status_code == 202
    data = resp.get_json()
    assert data["scheduled"]["send_at"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert isinstance(data["scheduled"]["id"], int)
    assert stored() == (0, 1)
    assert client.get(URL, headers=world.alice_h).get_json()["total"] == 0


def test_past_send_at_sends_now(client: FlaskClient, world: World) -> None:
    resp = publish(client, world, user_id=world.alice.id, send_at="2020-01-01T00:00:00Z")
    assert resp.status_code == 201 and stored() == (1, 0)


BAD_PUBLISH = [
    pytest.param(
        {"data": '{"type": "comment", "title": ', "content_type": "application/json"},
        400,
        "invalid_json",
        None,
        id="malformed-json",
    ),
    pytest.param(
        {"data": '{"title": NaN}', "content_type": "application/json"},
        400,
        "invalid_json",
        None,
        id="nan",
    ),
    pytest.param(
        {"data": "[1, 2]", "content_type": "application/json"},
        400,
        "invalid_json",
        None,
        id="array-body",
    ),
    pytest.param(
        {"data": "type=comment&title=x", "content_type": "application/x-www-form-urlencoded"},
        400,
        "invalid_content_type",
        None,
        id="form-body",
    ),
    pytest.param(
        {"data": "", "content_type": "application/json"}, 400, "invalid_json", None, id="empty-body"
    ),
    pytest.param({"json": {"title": None}}, 422, "validation_error", "title", id="missing-title"),
    pytest.param({"json": {"title": 42}}, 422, "validation_error", "title", id="title-not-string"),
    pytest.param(
        {"json": {"title": "x" * 201}}, 422, "validation_error", "title", id="title-too-long"
    ),
    pytest.param({"json": {"type": None}}, 422, "validation_error", "type", id="missing-type"),
    pytest.param(
        {"json": {"priority": "critical"}}, 422, "validation_error", "priority", id="bad-priority"
    ),
    pytest.param({"json": {"tags": "ci"}}, 422, "validation_error", "tags", id="tags-not-list"),
    pytest.param(
        {"json": {"channels": ["pigeon"]}}, 422, "validation_error", "channels", id="bad-channel"
    ),
    pytest.param(
        {"json": {"url": "javascript:alert(1)"}}, 422, "validation_error", "url", id="unsafe-url"
    ),
    pytest.param(
        {"json": {"send_at": "tomorrow"}}, 422, "validation_error", "send_at", id="bad-send-at"
    ),
    pytest.param(
        {"json": {"entity_id": [1]}}, 422, "validation_error", "entity_id", id="entity-id-list"
    ),
    pytest.param({"json": {"titel": "typo"}}, 422, "validation_error", "titel", id="unknown-field"),
    pytest.param(
        {"json": {"user_id": None}}, 422, "validation_error", "user_id", id="no-recipient"
    ),
    pytest.param(
        {"json": {"email": "bob@example.com"}},
        422,
        "validation_error",
        "email",
        id="two-recipient-forms",
    ),
    pytest.param(
        {"json": {"user_id": "2"}}, 422, "validation_error", "user_id", id="user-id-string"
    ),
    pytest.param(
        {"json": {"user_id": True}}, 422, "validation_error", "user_id", id="user-id-bool"
    ),
    pytest.param(
        {"json": {"user_id": None, "user_ids": []}},
        422,
        "validation_error",
        "user_ids",
        id="empty-user-ids",
    ),
    pytest.param(
        {"json": {"user_id": None, "user_ids": list(range(1, 10_002))}},
        422,
        "validation_error",
        "user_ids",
        id="too-many-user-ids",
    ),
    pytest.param(
        {"json": {"user_id": None, "tenant": False}},
        422,
        "validation_error",
        "tenant",
        id="tenant-false",
    ),
    pytest.param(
        {"json": {"user_id": 999_999}}, 422, "unknown_recipient", "user_id", id="unknown-user-id"
    ),
    pytest.param(
        {"json": {"user_id": None, "email": "nobody@example.com"}},
        422,
        "unknown_recipient",
        "email",
        id="unknown-email",
    ),
    pytest.param(
        {"json": {"user_id": None, "user_ids": [1, 999_999]}},
        422,
        "unknown_recipient",
        "user_ids",
        id="one-unknown-in-list",
    ),
]


@pytest.mark.parametrize(("request_kw", "status", "code", "field"), BAD_PUBLISH)
def test_bad_publish_is_refused_and_stores_nothing(
    client: FlaskClient,
    world: World,
    request_kw: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    if "json" in request_kw:
        body = {"user_id": world.alice.id, "type": "comment", "title": "Hello"}
        body.update(request_kw["json"])
        request_kw = {"json": {k: v for k, v in body.items() if v is not None}}
    resp = client.post(URL, headers=world.admin_h, **request_kw)
    assert resp.status_code == status
    error = resp.get_json()["error"]
    assert error["code"] == code and error["message"]
    if field:
        assert field in error["fields"]
    assert stored() == (0, 0)


def test_every_bad_field_is_named_at_once(client: FlaskClient, world: World) -> None:
    resp = client.post(
        URL, headers=world.admin_h, json={"user_id": "x", "title": "", "priority": "meh"}
    )
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {"user_id", "type", "title", "priority"}


def test_oversized_body_is_413_json_and_stores_nothing(client: FlaskClient, world: World) -> None:
    body = json.dumps(
        {"user_id": world.alice.id, "type": "comment", "title": "big", "body": "x" * 70_000}
    )
    resp = client.post(URL, data=body, content_type="application/json", headers=world.admin_h)
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "payload_too_large"
    assert stored() == (0, 0)
