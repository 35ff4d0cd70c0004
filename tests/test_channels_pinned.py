"""Webhooks and Web Push connect to the address they checked, not to a second DNS answer.

DNS is the one part faked here (there is no name server on a test box): a name answers
127.0.0.1, where a real receiver listens, on the first lookup, and anything after that is an
attacker's rebinding answer. The requests themselves cross real sockets.
"""

from __future__ import annotations

import base64
import os
import socket
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifier.channels.base import DeliveryJob, PermanentError
from notifier.channels.push import PushChannel, generate_vapid_keys
from notifier.channels.webhook import WebhookChannel
from tests.fixtures_receivers import HttpReceiver

NAME = "push.rebind.test"
ITEM = {"id": 7, "type": "comment", "title": "Hi", "body": "", "priority": "normal"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class RebindingDNS:
    """Answer NAME with ``first`` once, then with ``later``; count the lookups of NAME."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, first: str, later: str) -> None:
        self.lookups = 0
        self.first, self.later = first, later
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != NAME:
                return real(host, port, *args, **kwargs)
            self.lookups += 1
            answer = self.first if self.lookups == 1 else self.later
            return real(answer, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def subscription(endpoint: str) -> dict[str, Any]:
    """A browser's subscription with a real key pair (the payload must encrypt)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    keys = {"p256dh": b64url(public), "auth": b64url(os.urandom(16))}
    return {"endpoint": endpoint, "keys": keys}


def push_channel(allow_private: bool) -> PushChannel:
    public, private = generate_vapid_keys()
    return PushChannel(
        {
            "NOTIFIER_VAPID_PUBLIC_KEY": public,
            "NOTIFIER_VAPID_PRIVATE_KEY": private,
            "NOTIFIER_WEBHOOK_ALLOW_PRIVATE": allow_private,
        }
    )


def test_push_connects_to_the_address_it_resolved_once(
    http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_receiver.script(201)
    # A second lookup would lead to a port nothing listens on behind another address.
    dns = RebindingDNS(monkeypatch, first="127.0.0.1", later="127.0.0.2")
    endpoint = f"http://{NAME}:{http_receiver.port}/push/sub-1"
    job = DeliveryJob(41, "push", 3, 2, subscription(endpoint), [dict(ITEM)])

    push_channel(allow_private=True).send(job)

    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/push/sub-1")
    assert req.headers["Host"] == f"{NAME}:{http_receiver.port}"
    assert dns.lookups == 1


def test_push_refuses_a_name_that_resolves_inside(
    http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = RebindingDNS(monkeypatch, first="127.0.0.1", later="127.0.0.1")
    # https, as production requires; the address is checked before any connection is made.
    endpoint = f"https://{NAME}:{http_receiver.port}/push/x"
    job = DeliveryJob(41, "push", 3, 2, subscription(endpoint), [dict(ITEM)])
    with pytest.raises(PermanentError, match="refused push endpoint: .*non-public"):
        push_channel(allow_private=False).send(job)
    assert http_receiver.requests == [] and dns.lookups == 1


def test_webhook_connects_to_the_address_it_resolved_once(
    http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_receiver.script(200)
    dns = RebindingDNS(monkeypatch, first="127.0.0.1", later="127.0.0.2")
    target = {"url": f"http://{NAME}:{http_receiver.port}/hook", "secret": "s"}
    job = DeliveryJob(41, "webhook", 3, 2, target, [dict(ITEM)])

    WebhookChannel({"NOTIFIER_WEBHOOK_ALLOW_PRIVATE": True}).send(job)

    [req] = http_receiver.requests
    assert req.headers["Host"] == f"{NAME}:{http_receiver.port}"
    assert dns.lookups == 1
