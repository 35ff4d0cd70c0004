"""Build the external delivery channels from configuration.

``in_app`` is not a transport (see :mod:`notifier.channels.in_app`); the others are built from
a plain config mapping, and only those whose settings are present are returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifier.channels.base import (
    Channel,
    DeliveryJob,
    PermanentError,
    TransientError,
)
from notifier.channels.chat import ChatChannel
from notifier.channels.email import EmailChannel
from notifier.channels.push import PushChannel, PushGone, is_gone
from notifier.channels.sms import SmsChannel
from notifier.channels.webhook import WebhookChannel

CHANNEL_NAMES = ("in_app", "email", "push", "sms", "webhook", "chat")

__all__ = [
    "CHANNEL_NAMES",
    "Channel",
    "ChatChannel",
    "DeliveryJob",
    "EmailChannel",
    "PermanentError",
    "PushChannel",
    "PushGone",
    "SmsChannel",
    "TransientError",
    "WebhookChannel",
    "build_channels",
    "is_gone",
]


def build_channels(cfg: Mapping[str, Any]) -> dict[str, Channel]:
    """Return the configured external channels by name; webhook and chat are always there."""
    candidates: list[Channel] = [
        EmailChannel(cfg),
        PushChannel(cfg),
        SmsChannel(cfg),
        WebhookChannel(cfg),
        ChatChannel(cfg),
    ]
    return {channel.name: channel for channel in candidates if channel.configured()}
