"""Test the delivery worker's SMS and webhook paths against a real HTTP receiver.

The receiver is a real HTTP server on loopback, playing what production talks to: an SMS
gateway, a tenant's webhook endpoint. (Web Push is in ``test_delivery_push``.)
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from notifier.channels.webhook import sign
from notifier.delivery import tick
from notifier.extensions import db
from notifier.models import WebhookEndpoint, utcnow
from tests.factories import make_user
from tests.fixtures_receivers import HttpReceiver
from tests.test_delivery import queue, reload, sqlite_app

SECRET = "whsec_test_secret_value"


# --- sms -------------------------------------------------------------------------------------


@pytest.fixture
def sms_app(tmp_path: Any, http_receiver: HttpReceiver) -> Iterator[Flask]:
    yield from sqlite_app(
        tmp_path,
        NOTIFIER_SMS_URL=http_receiver.url("/sms"),
        NOTIFIER_SMS_USER="gw-user",
        NOTIFIER_SMS_PASSWORD="gw-pass",
        NOTIFIER_SMS_FROM="+15550000000",
    )


def test_sms_posts_the_gateway_form(sms_app: Flask, http_receiver: HttpReceiver) -> None:
    bob = make_user("bob@example.com", phone="+15551234567")
    did = queue(bob, "sms", title="Server down", body="db-1 is not answering")

    assert tick(sms_app) == 1

    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/sms")
    assert req.form() == {
        "to": "+15551234567",
        "from": "+15550000000",
        "body": "Server down\ndb-1 is not answering",
    }
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"gw-user:gw-pass").decode()
    assert reload(did).status == "sent"


def test_sms_gateway_429_is_retried_after_its_retry_after(
    sms_app: Flask, http_receiver: HttpReceiver
) -> None:
    http_receiver.script(429, retry_after=90)
    bob = make_user("bob@example.com", phone="+15551234567")
    did = queue(bob, "sms")

    start = utcnow()
    tick(sms_app)
    end = utcnow()

    row = reload(did)
    assert (row.status, row.attempts) == ("pending", 1)
    assert start + timedelta(seconds=90) <= row.due_at <= end + timedelta(seconds=90)
    assert row.last_error == "SMS gateway answered 429"


def test_sms_without_a_phone_number_goes_dead(sms_app: Flask, http_receiver: HttpReceiver) -> None:
    bob = make_user("bob@example.com")
    did = queue(bob, "sms")

    tick(sms_app)

    assert (reload(did).status, reload(did).last_error) == (
        "dead",
        "the recipient has no phone number",
    )
    assert http_receiver.requests == []


# --- webhooks --------------------------------------------------------------------------------


@pytest.fixture
def hook_app(tmp_path: Any) -> Iterator[Flask]:
    yield from sqlite_app(tmp_path, NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True)


def endpoint(tenant_id: int, url: str) -> int:
    row = WebhookEndpoint(tenant_id=tenant_id, url=url, secret=SECRET, types=None)
    db.session.add(row)
    db.session.commit()
    return row.id


def queue_webhook(tenant_id: int, hook: int) -> int:
    return queue(None, "webhook", tenant_id=tenant_id, webhook_id=hook, payload=webhook_payload())


def webhook_payload(title: str = "Deploy done") -> dict[str, Any]:
    return {
        "type": "deploy",
        "title": title,
        "body": "v1.2.3 is live",
        "priority": "normal",
        "entity_type": None,
        "entity_id": None,
        "url": None,
        "tags": [],
        "notification_ids": [11, 12],
        "recipient_ids": [1, 2],
        "recipients": 2,
    }


def test_webhook_is_signed_and_names_the_delivery(
    hook_app: Flask, http_receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="notifier.delivery")
    admin = make_user("admin@example.com", role="admin")
    hook = endpoint(admin.tenant_id, http_receiver.url("/hooks/in"))
    did = queue(
        None, "webhook", tenant_id=admin.tenant_id, webhook_id=hook, payload=webhook_payload()
    )

    assert tick(hook_app) == 1

    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/hooks/in")
    assert req.headers["X-Notifier-Delivery"] == str(did)
    timestamp = req.headers["X-Notifier-Timestamp"]
    assert req.headers["X-Notifier-Signature"] == sign(SECRET, timestamp, req.body)
    body = req.json()
    assert (body["id"], body["event"], body["tenant_id"]) == (
        did,
        "notification.created",
        admin.tenant_id,
    )
    assert body["data"]["title"] == "Deploy done"
    assert body["data"]["notification_ids"] == [11, 12]
    assert reload(did).status == "sent"
    # One line per outcome, with no secret and no message content in it.
    [line] = [r.getMessage() for r in caplog.records if r.name == "notifier.delivery"]
    assert f"delivery {did} webhook sent" in line
    assert SECRET not in caplog.text and "v1.2.3" not in caplog.text


def test_webhook_retry_resends_the_same_delivery_id(
    hook_app: Flask, http_receiver: HttpReceiver
) -> None:
    http_receiver.script(503, retry_after=120)
    admin = make_user("admin@example.com", role="admin")
    hook = endpoint(admin.tenant_id, http_receiver.url("/hooks/in"))
    did = queue(
        None, "webhook", tenant_id=admin.tenant_id, webhook_id=hook, payload=webhook_payload()
    )

    start = utcnow()
    tick(hook_app)
    end = utcnow()
    row = reload(did)
    assert (row.status, row.last_error) == ("pending", "webhook endpoint answered 503")
    # Retry-After (120 s) is longer than the first backoff (10 s ± 20 %), so it wins.
    assert start + timedelta(seconds=120) <= row.due_at <= end + timedelta(seconds=120)

    row.due_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    tick(hook_app)

    first, second = http_receiver.requests
    assert first.headers["X-Notifier-Delivery"] == second.headers["X-Notifier-Delivery"] == str(did)
    assert reload(did).status == "sent"


def test_webhook_to_a_deleted_endpoint_goes_dead(
    hook_app: Flask, http_receiver: HttpReceiver
) -> None:
    admin = make_user("admin@example.com", role="admin")
    hook = endpoint(admin.tenant_id, http_receiver.url("/hooks/in"))
    did = queue(
        None, "webhook", tenant_id=admin.tenant_id, webhook_id=hook, payload=webhook_payload()
    )
    db.session.get(WebhookEndpoint, hook).deleted_at = utcnow()
    db.session.commit()

    tick(hook_app)

    row = reload(did)
    assert (row.status, row.last_error) == ("dead", "the webhook endpoint was deleted")
    assert http_receiver.requests == []
