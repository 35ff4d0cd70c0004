"""Send Web Push messages (RFC 8030, aes128gcm payloads, VAPID) with pywebpush.

``job.target`` is the browser's PushSubscription as JSON: ``{"endpoint", "keys": {"p256dh",
"auth"}}``. The payload the service worker receives is JSON ``{title, body, url, tag, id}``;
a digest has ``id`` null, ``url`` null and one title per line in ``body``.

Keys: ``NOTIFIER_VAPID_PUBLIC_KEY`` is the base64url uncompressed P-256 point (65 bytes) that
the page passes to ``pushManager.subscribe({applicationServerKey})``; the private key is the
base64url raw 32-byte scalar, one of the two forms ``py_vapid.Vapid.from_string`` reads (the
other is base64url DER). :func:`generate_vapid_keys` makes a matching pair.

A 404 or 410 from the push service means the subscription is gone for good: that raises
:class:`PushGone`, and the worker deletes the subscription. Endpoints come from browsers, i.e.
from users, so they must be https and go out through webhooks' SSRF guard
(:mod:`notifier.channels.pinned`): resolved once, checked, and connected to at that address;
redirects are not followed. pywebpush encrypts and signs; its POST goes through that guard.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid, Vapid02
from pywebpush import WebPushException, webpush

from notifier.channels import pinned
from notifier.channels.base import (
    Channel,
    DeliveryJob,
    PermanentError,
    TransientError,
    io_timeout,
)
from notifier.channels.webhook import parse_retry_after

TIMEOUT = 10.0
TTL = 86400  # Keep undelivered messages a day at the push service, then drop them.
MAX_BODY = 1000  # The encrypted payload must stay under the 4 KiB push-service limit.
URGENCY = {"low": "low", "normal": "normal", "high": "high", "urgent": "high"}


class PushGone(PermanentError):
    """The push service says the subscription no longer exists; delete it."""


def is_gone(exc: BaseException) -> bool:
    """Return True when a send failure means the subscription should be deleted."""
    return isinstance(exc, PushGone)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate_vapid_keys() -> tuple[str, str]:
    """Return a new (public, private) VAPID key pair as unpadded base64url strings."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(public), _b64url(private)


def build_payload(job: DeliveryJob) -> dict[str, Any]:
    """Return the JSON object the service worker shows as a notification."""
    if job.is_digest:
        titles = "\n".join(str(item.get("title") or "") for item in job.items)
        return {
            "title": f"{len(job.items)} new notifications",
            "body": titles[:MAX_BODY],
            "url": None,
            "tag": "notifier-digest",
            "id": None,
        }
    item = job.items[0] if job.items else {}
    return {
        "title": str(item.get("title") or ""),
        "body": str(item.get("body") or "")[:MAX_BODY],
        "url": item.get("url"),
        # One browser notification per item: a resend after a retry replaces, not duplicates.
        "tag": f"notification-{item.get('id')}",
        "id": item.get("id"),
    }


class _PinnedSession(requests.Session):
    """The session pywebpush posts through: every POST goes out by ``pinned.post``."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def post(
        self,
        url: str | bytes,
        data: Any = None,
        json: Any = None,
        **kwargs: Any,
    ) -> requests.Response:
        """POST ``data`` with ``headers`` to the checked address; answer as requests would."""
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
        reply = pinned.post(
            url.decode() if isinstance(url, bytes) else url,
            data or b"",
            headers,
            allow_private=self.allow_private,
            timeout=float(kwargs.get("timeout") or TIMEOUT),
            what="push endpoint",
        )
        resp = requests.Response()
        resp.status_code, resp.reason, resp._content = reply.status, reply.reason, reply.body
        resp.headers.update(reply.headers.items())
        resp.url = str(url)
        return resp


class PushChannel(Channel):
    """Send one Web Push message per delivery to one browser subscription."""

    name = "push"
    requires = ("NOTIFIER_VAPID_PUBLIC_KEY", "NOTIFIER_VAPID_PRIVATE_KEY")

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        """Read the NOTIFIER_VAPID_* keys and the private-address switch."""
        self.public_key: str | None = cfg.get("NOTIFIER_VAPID_PUBLIC_KEY")
        self.private_key: str | None = cfg.get("NOTIFIER_VAPID_PRIVATE_KEY")
        self.subject = str(cfg.get("NOTIFIER_VAPID_SUBJECT") or "mailto:admin@localhost")
        self.allow_private = bool(cfg.get("NOTIFIER_WEBHOOK_ALLOW_PRIVATE", False))
        self.timeout = io_timeout(cfg, TIMEOUT)
        self._vapid: Vapid02 | None = None
        self._session = _PinnedSession(self.allow_private)

    def vapid(self) -> Vapid02:
        """Return the signing key, parsed once."""
        if self._vapid is None:
            try:
                self._vapid = Vapid.from_string(private_key=self.private_key or "")
            except Exception as exc:  # py_vapid raises several types for a bad key.
                # Transient: every push fails until an operator fixes the setting.
                raise TransientError(f"NOTIFIER_VAPID_PRIVATE_KEY is not usable: {exc}") from exc
        return self._vapid

    def _check_endpoint(self, endpoint: Any) -> str:
        """Return the endpoint if it is an https URL, else raise PermanentError.

        The address itself is checked when sending, by the same lookup that is connected to.
        """
        if not isinstance(endpoint, str):
            raise PermanentError("push subscription has no endpoint")
        try:
            parts = urlsplit(endpoint)
            allowed = ("https", "http") if self.allow_private else ("https",)
            if parts.scheme not in allowed or not parts.hostname:
                raise ValueError("push endpoints must be https URLs")
        except ValueError as exc:
            raise PermanentError(f"refused push endpoint: {exc}") from exc
        return endpoint

    def send(self, job: DeliveryJob) -> None:
        """Encrypt and send the payload; PushGone when the subscription has expired."""
        if not (self.public_key and self.private_key):
            raise PermanentError("web push is not configured (NOTIFIER_VAPID_*)")
        subscription = job.target if isinstance(job.target, Mapping) else {}
        self._check_endpoint(subscription.get("endpoint"))
        payload = build_payload(job)
        priority = str((job.items[0] if len(job.items) == 1 else {}).get("priority", "normal"))
        headers = {"Urgency": URGENCY.get(priority, "normal")}
        try:
            webpush(
                dict(subscription),
                data=json.dumps(payload, separators=(",", ":"), default=str),
                vapid_private_key=self.vapid(),
                # A fresh dict each time: pywebpush writes aud and exp into it.
                vapid_claims={"sub": self.subject},
                ttl=TTL,
                timeout=self.timeout,
                headers=headers,
                requests_session=self._session,
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status is None:  # Raised before sending: malformed keys in the subscription.
                raise PermanentError(f"invalid push subscription: {exc.message}") from exc
            if status in (404, 410):
                raise PushGone(f"push subscription is gone ({status}); delete it") from exc
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
                raise TransientError(f"push service answered {status}", retry_after) from exc
            raise PermanentError(f"push service answered {status}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"push service unreachable: {exc}") from exc
        except (ValueError, TypeError) as exc:  # Undecodable p256dh/auth keys.
            raise PermanentError(f"invalid push subscription: {exc}") from exc
