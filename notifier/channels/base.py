"""Channel interface for external delivery: email, push, sms, webhook.

A channel turns one :class:`DeliveryJob` into one transport call. It never touches the
database and never commits; the delivery worker owns claiming, retries and dead letters.
Raise :class:`TransientError` for failures worth retrying (timeouts, 5xx, 429, connection
refused) and :class:`PermanentError` for those that will never succeed (4xx, bad address,
gone subscription). Anything else is treated as transient.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


class ChannelError(Exception):
    """Base for delivery failures."""


class TransientError(ChannelError):
    """Retry later, with backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    """Give up now: the delivery goes to the dead-letter list."""


@dataclass(slots=True)
class DeliveryJob:
    """Everything a channel needs to send one delivery, copied out of the database.

    ``items`` holds one notification payload for an immediate delivery, or several for a
    digest. ``target`` is the channel's address: an email address, an E.164 phone number,
    a push subscription dict, or a webhook {url, secret}.
    """

    delivery_id: int
    channel: str
    user_id: int | None
    tenant_id: int
    target: Any
    items: list[dict[str, Any]]
    attempt: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_digest(self) -> bool:
        """Return True when several notifications go out in one message."""
        return len(self.items) > 1


def io_timeout(cfg: Mapping[str, Any], default: float) -> float:
    """Return a channel's socket timeout: its own default, lowered to NOTIFIER_DELIVERY_TIMEOUT.

    The delivery worker bounds each whole send by that key as well; matching the socket
    timeout keeps a channel's own clean-up (SMTP QUIT to a frozen server) within it too.
    """
    limit = cfg.get("NOTIFIER_DELIVERY_TIMEOUT")
    return min(default, float(limit)) if limit else default


class Channel(ABC):
    """One external transport."""

    name: str = "abstract"
    #: The config keys that must all be set before it can send (the registry reads them).
    requires: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def send(self, job: DeliveryJob) -> None:
        """Send the job or raise TransientError / PermanentError."""
