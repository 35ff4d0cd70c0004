"""Send SMS through an HTTP gateway: a form POST with basic auth.

The request is ``POST NOTIFIER_SMS_URL`` with ``application/x-www-form-urlencoded`` fields
``to`` (E.164), ``from`` (NOTIFIER_SMS_FROM, omitted when unset) and ``body`` (title and body,
at most 480 characters), authenticated with NOTIFIER_SMS_USER / NOTIFIER_SMS_PASSWORD. Most
gateways (Twilio-style APIs, self-hosted SMS servers) accept that shape. 2xx is success; 429,
5xx and network failures are retried (honouring Retry-After); other answers are permanent.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from notifier.channels.base import (
    Channel,
    DeliveryJob,
    PermanentError,
    TransientError,
    io_timeout,
)
from notifier.channels.webhook import raise_for_status

TIMEOUT = 10.0
MAX_LENGTH = 480  # Three concatenated GSM-7 segments; beyond that gateways split or reject.
_E164 = re.compile(r"\A\+[1-9][0-9]{1,14}\Z")


def truncate(text: str, limit: int = MAX_LENGTH) -> str:
    """Shorten text to at most ``limit`` characters, cutting at a word boundary."""
    text = text.strip()
    if len(text) <= limit:
        return text
    # "..." rather than "…": the single character is outside GSM-7 and would force UCS-2,
    # which cuts each segment from 160 to 70 characters.
    cut = text[: limit - 3]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:  # A boundary far back would throw away too much; cut mid-word.
        cut = cut[:space]
    return cut.rstrip() + "..."


def compose(job: DeliveryJob) -> str:
    """Return the message text: title and body, or a count and titles for a digest."""
    if job.is_digest:
        titles = "; ".join(str(item.get("title", "")) for item in job.items)
        return truncate(f"{len(job.items)} new notifications: {titles}")
    item = job.items[0] if job.items else {}
    title, body = str(item.get("title") or ""), str(item.get("body") or "")
    return truncate(f"{title}\n{body}" if body else title)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would turn the POST into a GET and lose the message."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        """Return None so urllib raises the 3xx as an HTTPError."""
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class SmsChannel(Channel):
    """Send one text per delivery; ``job.target`` is an E.164 phone number."""

    name = "sms"
    requires = ("NOTIFIER_SMS_URL",)

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        """Read the NOTIFIER_SMS_* keys from the config mapping."""
        self.url: str | None = cfg.get("NOTIFIER_SMS_URL")
        self.user: str | None = cfg.get("NOTIFIER_SMS_USER")
        self.password: str = cfg.get("NOTIFIER_SMS_PASSWORD") or ""
        self.sender: str | None = cfg.get("NOTIFIER_SMS_FROM")
        self.timeout = io_timeout(cfg, TIMEOUT)

    def send(self, job: DeliveryJob) -> None:
        """POST the message to the gateway, mapping failures to retry or dead."""
        if not self.url:
            raise PermanentError("SMS is not configured (NOTIFIER_SMS_URL)")
        to = str(job.target or "")
        if not _E164.fullmatch(to):
            raise PermanentError(f"not an E.164 phone number: {to!r}")
        fields = {"to": to, "body": compose(job)}
        if self.sender:
            fields["from"] = self.sender
        request = urllib.request.Request(  # noqa: S310 - the URL is operator configuration
            self.url, data=urlencode(fields).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                response.read(4096)
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as exc:
            exc.close()
            status, headers = exc.code, exc.headers
        except (OSError, ValueError) as exc:
            # URLError, refused connections and timeouts are OSErrors; ValueError is a bad URL,
            # which an operator fixes, so retrying carries messages across the fix.
            raise TransientError(f"SMS gateway unreachable: {exc}") from exc
        raise_for_status(status, headers, "SMS gateway")
