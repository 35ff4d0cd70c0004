"""Action buttons (CONTRACT §9): publish with actions, click them, the signed `action` webhook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from notifier.channels.webhook import sign
from notifier.delivery import tick
from notifier.extensions import db
from notifier.models import ActionClick, Notification, WebhookEndpoint
from notifier.service import actions as actions_svc
from tests.factories import World, make_world
from tests.fixtures_receivers import HttpReceiver
from tests.test_delivery import sqlite_app

SECRET = "whsec_action_test"
APPROVE = {"id": "approve", "label": "Approve", "callback": True}
VIEW = {"id": "view", "label": "View report", "url": "/reports/7", "style": "secondary"}


@pytest.fixture
def hook_app(tmp_path: Any) -> Iterator[Flask]:
    yield from sqlite_app(tmp_path, NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True)


@pytest.fixture
def w(hook_app: Flask) -> World:
    return make_world()


def publish(client: FlaskClient, w: World, **fields: Any) -> Any:
    body = {"user_id": w.alice.id, "type": "approval", "title": "Expense #7", **fields}
    return client.post("/api/v1/notifications", json=body, headers=w.admin_h)


def hook(tenant_id: int, url: str, types: list[str] | None) -> int:
    row = WebhookEndpoint(tenant_id=tenant_id, url=url, secret=SECRET, types=types)
    db.session.add(row)
    db.session.commit()
    return row.id


def test_publish_stores_actions_and_the_list_returns_them(hook_app: Flask, w: World) -> None:
    client = hook_app.test_client()
    resp = publish(client, w, actions=[APPROVE, VIEW])
    assert resp.status_code == 201, resp.get_json()
    sent = resp.get_json()["notification"]
    expected = [
        {"id": "approve", "label": "Approve", "style": "primary", "callback": True},
        {"id": "view", "label": "View report", "style": "secondary", "url": "/reports/7"},
    ]
    assert sent["actions"] == expected
    [item] = client.get("/api/v1/notifications", headers=w.alice_h).get_json()["items"]
    assert item["actions"] == expected


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ([APPROVE, VIEW, {**VIEW, "id": "b"}, {**VIEW, "id": "c"}], "actions"),
        ("approve", "actions"),
        ([{"id": "x", "label": "Go", "url": "javascript:alert(1)"}], "actions.0.url"),
        ([{"id": "x", "label": "Go", "url": "//evil.example"}], "actions.0.url"),
        ([{"id": "x", "label": "Go"}], "actions.0.url"),
        ([{"id": "x y", "label": "Go", "callback": True}], "actions.0.id"),
        ([{"id": "x", "label": " ", "callback": True}], "actions.0.label"),
        ([{"id": "x", "label": "Go", "callback": True, "style": "loud"}], "actions.0.style"),
        ([{"id": "x", "label": "Go", "callback": True, "colour": "red"}], "actions.0.colour"),
        ([APPROVE, "nope"], "actions.1"),
    ],
)
def test_bad_actions_are_refused_and_nothing_is_stored(
    hook_app: Flask, w: World, actions: Any, field: str
) -> None:
    resp = publish(hook_app.test_client(), w, actions=actions)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert db.session.scalar(select(Notification.id)) is None


def test_click_records_marks_read_and_calls_the_action_webhook(
    hook_app: Flask, w: World, http_receiver: HttpReceiver
) -> None:
    client = hook_app.test_client()
    subscribed = hook(w.acme.id, http_receiver.url("/hooks/actions"), ["action"])
    hook(w.acme.id, http_receiver.url("/hooks/all"), None)  # every type: not action events
    hook(w.globex.id, http_receiver.url("/hooks/globex"), ["action"])  # another tenant
    nid = publish(client, w, actions=[APPROVE, VIEW], channels=["in_app"]).get_json()[
        "notification"
    ]["id"]

    resp = client.post(f"/api/v1/notifications/{nid}/actions/approve", headers=w.alice_h)

    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["action"]["id"] == "approve"
    assert body["notification"]["is_read"] is True
    assert actions_svc.clicks(nid) == {"approve": 1}
    assert tick(hook_app) == 1
    [req] = http_receiver.requests
    assert req.path == "/hooks/actions"
    assert req.headers["X-Notifier-Signature"] == sign(
        SECRET, req.headers["X-Notifier-Timestamp"], req.body
    )
    sent = req.json()
    assert sent["event"] == "notification.action"
    assert sent["data"]["notification_id"] == nid
    assert sent["data"]["action_id"] == "approve"
    assert sent["data"]["user_id"] == w.alice.id
    assert sent["data"]["at"].endswith("Z")
    assert subscribed


def test_a_link_action_records_the_click_without_a_webhook(
    hook_app: Flask, w: World, http_receiver: HttpReceiver
) -> None:
    client = hook_app.test_client()
    hook(w.acme.id, http_receiver.url("/hooks/actions"), ["action"])
    nid = publish(client, w, actions=[VIEW], channels=["in_app"]).get_json()["notification"]["id"]
    for _ in range(2):
        resp = client.post(f"/api/v1/notifications/{nid}/actions/view", headers=w.alice_h)
        assert resp.status_code == 200
    assert actions_svc.clicks(nid) == {"view": 2}
    assert tick(hook_app) == 0
    assert http_receiver.requests == []


def test_unknown_action_and_other_users_items_are_404(hook_app: Flask, w: World) -> None:
    client = hook_app.test_client()
    nid = publish(client, w, actions=[APPROVE]).get_json()["notification"]["id"]
    for url, headers in (
        (f"/api/v1/notifications/{nid}/actions/reject", w.alice_h),
        (f"/api/v1/notifications/{nid}/actions/approve", w.bob_h),
        (f"/api/v1/notifications/{nid}/actions/approve", w.carol_h),
        (f"/api/v1/notifications/{nid}/actions/approve", w.admin_h),
    ):
        resp = client.post(url, headers=headers)
        assert resp.status_code == 404
        assert resp.get_json()["error"]["code"] == "not_found"
    assert db.session.scalar(select(ActionClick.id)) is None
    assert db.session.get(Notification, nid).read_at is None
