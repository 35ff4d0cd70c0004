"""Test Web Push delivery: one message per browser subscription, gone ones deleted.

The real HTTP receiver stands in for the browser vendor's push service (FCM, Mozilla
autopush), the one part that truly lives outside: the worker encrypts and signs exactly as it
would for them, and the test decrypts each message with that browser's own key.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select

from notifier.channels.push import generate_vapid_keys
from notifier.delivery import tick
from notifier.extensions import db
from notifier.models import PushSubscription
from tests.factories import make_user
from tests.fixtures_receivers import HttpReceiver, Reply
from tests.test_delivery import queue, reload, sqlite_app


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class BrowserKeys:
    """What a browser generates for a push subscription: a P-256 key pair and an auth secret."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.p256dh = b64url(public)

    def decrypt(self, body: bytes) -> Any:
        """Decrypt an aes128gcm message as the browser would."""
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth))


@pytest.fixture
def push_app(tmp_path: Any) -> Iterator[Flask]:
    public, private = generate_vapid_keys()
    yield from sqlite_app(
        tmp_path,
        NOTIFIER_VAPID_PUBLIC_KEY=public,
        NOTIFIER_VAPID_PRIVATE_KEY=private,
        NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True,  # The stand-in push service is on loopback.
    )


def subscribe(user_id: int, url: str) -> tuple[int, BrowserKeys]:
    keys = BrowserKeys()
    row = PushSubscription(
        user_id=user_id, endpoint=url, p256dh=keys.p256dh, auth=b64url(keys.auth)
    )
    db.session.add(row)
    db.session.commit()
    return row.id, keys


def subscription_ids() -> list[int]:
    return list(db.session.scalars(select(PushSubscription.id).order_by(PushSubscription.id)))


def test_push_goes_to_every_subscription_and_a_gone_one_is_deleted(
    push_app: Flask, http_receiver: HttpReceiver
) -> None:
    alice = make_user("alice@example.com")
    laptop, laptop_keys = subscribe(alice.id, http_receiver.url("/push/laptop"))
    phone, _ = subscribe(alice.id, http_receiver.url("/push/phone"))
    http_receiver.script(201, 410)  # The laptop takes it; the phone's subscription expired.
    did = queue(alice, "push", title="Your export is ready", url="/exports/9", notification_id=9)

    assert tick(push_app) == 1

    laptop_req, phone_req = http_receiver.requests
    assert (laptop_req.path, phone_req.path) == ("/push/laptop", "/push/phone")
    assert laptop_keys.decrypt(laptop_req.body) == {
        "title": "Your export is ready",
        "body": "Body of Your export is ready",
        "url": "/exports/9",
        "tag": "notification-9",
        "id": 9,
    }
    row = reload(did)
    assert row.status == "sent"  # One subscription got it: that is a delivery.
    assert "1 of 2 targets failed" in (row.last_error or "")
    assert subscription_ids() == [laptop]
    assert phone not in subscription_ids()


def test_push_with_every_subscription_gone_goes_dead(
    push_app: Flask, http_receiver: HttpReceiver
) -> None:
    alice = make_user("alice@example.com")
    subscribe(alice.id, http_receiver.url("/push/a"))
    http_receiver.script(Reply(404))
    did = queue(alice, "push")

    tick(push_app)

    row = reload(did)
    assert row.status == "dead"
    assert "gone" in (row.last_error or "")
    assert subscription_ids() == []


def test_push_service_unavailable_is_retried(push_app: Flask, http_receiver: HttpReceiver) -> None:
    alice = make_user("alice@example.com")
    sub, _ = subscribe(alice.id, http_receiver.url("/push/a"))
    http_receiver.script(503)
    did = queue(alice, "push")

    tick(push_app)

    row = reload(did)
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        "push service answered 503",
    )
    assert subscription_ids() == [sub]
