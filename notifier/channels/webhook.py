"""Deliver notifications to tenant webhook endpoints as signed JSON POSTs.

Wire format (one request per delivery; retries resend the same id)::

    POST <endpoint url>
    Content-Type: application/json
    User-Agent: Notifier-Webhook/1
    X-Notifier-Delivery: <delivery id>         same on every retry: use it to deduplicate
    X-Notifier-Timestamp: <unix seconds>
    X-Notifier-Signature: sha256=<hex>

    {"id": <delivery id>, "event": "notification.created", "tenant_id": 1, "data": {...}}

A digest carries ``"event": "notification.digest"`` and ``"items": [...]`` instead of ``data``.
A click on an action button with ``callback: true`` (CONTRACT §9) carries
``"event": "notification.action"`` and ``"data": {notification_id, action_id, user_id, at}``.

Verifying (Standard Webhooks / Stripe style): compute HMAC-SHA256 with the endpoint secret over
the bytes ``<X-Notifier-Timestamp> + "." + <raw request body>``, hex-encode it, compare it in
constant time with the part after ``sha256=``, and reject timestamps more than a few minutes
old to stop replays. Python::

    expected = "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, "sha256").hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Notifier-Signature"])

Receivers answer 2xx to accept. 410 Gone ends delivery for good, 429 and 5xx are retried
(honouring Retry-After), other 4xx and any redirect are permanent failures: redirects are never
followed, because a redirect could point the server at an internal address.

SSRF guard (:mod:`notifier.channels.pinned`, shared with Web Push): the host is resolved once,
every address must be public (not loopback, private, link-local, multicast, reserved or
unspecified) unless ``NOTIFIER_WEBHOOK_ALLOW_PRIVATE``, and the connection goes to that checked
address, so a DNS answer cannot change between check and use.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from notifier.channels.base import (
    Channel,
    DeliveryJob,
    PermanentError,
    TransientError,
    io_timeout,
)
from notifier.channels.pinned import post, resolve, split_url

TIMEOUT = 5.0
USER_AGENT = "Notifier-Webhook/1"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Return the X-Notifier-Signature value ``sha256=<hex>`` for one request."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def parse_retry_after(value: str | None) -> float | None:
    """Return a Retry-After header (seconds or HTTP date) as seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # An HTTP date is GMT by definition.
        return None
    return max(0.0, when.timestamp() - time.time())


def validate_webhook_url(url: str, allow_private: bool) -> str | None:
    """Return why a URL may not be used as a webhook endpoint, or None when it may."""
    try:
        parts, port = split_url(url)
        resolve(str(parts.hostname), port, allow_private)
    except ValueError as exc:
        return str(exc)
    except socket.gaierror:
        return "cannot resolve the host"
    return None


def raise_for_status(status: int, headers: http.client.HTTPMessage, what: str) -> None:
    """Map an HTTP status to success, TransientError or PermanentError."""
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise TransientError(f"{what} answered {status}", retry_after=retry_after)
    if 300 <= status < 400:
        raise PermanentError(f"{what} answered {status}; redirects are not followed")
    if status == 410:
        raise PermanentError(f"{what} answered 410 Gone")
    raise PermanentError(f"{what} answered {status}")


def build_body(job: DeliveryJob) -> bytes:
    """Return the JSON request body for a delivery (``data`` or, for a digest, ``items``)."""
    payload: dict[str, Any] = {"id": job.delivery_id, "tenant_id": job.tenant_id}
    first = job.items[0] if job.items else {}
    if "webhook_event" in first:  # a stored event of its own (an action button's callback)
        payload["event"] = first["webhook_event"]
        payload["data"] = first.get("data") or {}
    elif job.is_digest:
        payload["event"] = "notification.digest"
        payload["items"] = job.items
    else:
        payload["event"] = "notification.created"
        payload["data"] = job.items[0] if job.items else {}
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


class WebhookChannel(Channel):
    """POST signed JSON to a tenant endpoint; ``job.target`` is ``{"url", "secret"}``."""

    name = "webhook"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        """Read NOTIFIER_WEBHOOK_ALLOW_PRIVATE from the config mapping."""
        self.allow_private = bool(cfg.get("NOTIFIER_WEBHOOK_ALLOW_PRIVATE", False))
        self.timeout = io_timeout(cfg, TIMEOUT)

    def send(self, job: DeliveryJob) -> None:
        """Sign and POST the job to its endpoint, mapping failures to retry or dead."""
        target = job.target or {}
        url, secret = target.get("url"), target.get("secret")
        if not url or not secret:
            raise PermanentError("webhook target needs a url and a secret")
        body = build_body(job)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Notifier-Delivery": str(job.delivery_id),
            "X-Notifier-Timestamp": timestamp,
            "X-Notifier-Signature": sign(secret, timestamp, body),
        }
        reply = post(url, body, headers, allow_private=self.allow_private, timeout=self.timeout)
        raise_for_status(reply.status, reply.headers, "webhook endpoint")
