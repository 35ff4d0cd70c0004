"""Templated text on the external channels, delivered to real receivers: an SMS rendered per
recipient, one chat post rendered for the tenant (CONTRACT §10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.delivery import tick
from notifier.extensions import db
from notifier.service import templates
from tests.conftest import make_app
from tests.factories import World, make_world
from tests.fixtures_receivers import HttpReceiver


@pytest.fixture
def app(tmp_path: Any, http_receiver: HttpReceiver) -> Iterator[Flask]:
    app = make_app(
        f"sqlite:///{tmp_path / 'channels.sqlite'}",
        NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True,
        NOTIFIER_SMS_URL=http_receiver.url("/sms/send"),
        NOTIFIER_SMS_FROM="+15550001111",
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def world(app: Flask) -> World:
    return make_world()


def test_sms_and_chat_are_rendered_from_their_templates(
    app: Flask, client: FlaskClient, world: World, http_receiver: HttpReceiver
) -> None:
    h = world.alice_h
    assert client.patch("/api/v1/me", json={"phone": "+491701234567"}, headers=h).status_code == 200
    prefs = {"channels": {"sms": True}}
    assert client.patch("/api/v1/preferences", json=prefs, headers=h).status_code == 200
    chat = {"kind": "slack", "url": http_receiver.url("/services/T1/B2/x")}
    assert client.post("/api/v1/integrations", json=chat, headers=world.admin_h).status_code == 201
    tid = world.acme.id
    templates.save(tid, {"type": "login", "channel": "sms", "body": "Code {{ data.code }}"})
    templates.save(
        tid,
        {"type": "login", "channel": "chat", "title": "{{ tenant.name }}: code sent", "body": ""},
    )
    resp = client.post(
        "/api/v1/notifications",
        json={
            "user_id": world.alice.id,
            "type": "login",
            "title": "Sign-in code",
            "channels": ["sms", "chat"],
            "data": {"code": "483920"},
        },
        headers=world.admin_h,
    )
    assert resp.status_code == 201, resp.json
    assert resp.json["result"]["channels"] == {"sms": True, "chat": True}
    assert tick(app) == 2
    by_path = {r.path: r for r in http_receiver.requests}
    sms = by_path["/sms/send"].form()
    assert sms["to"] == "+491701234567" and sms["body"] == "Sign-in code\nCode 483920"
    post = by_path["/services/T1/B2/x"].json()
    assert post["text"].startswith("acme: code sent")
