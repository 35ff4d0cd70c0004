"""The channel registry: every channel's name, who switches it, and when it is set up.

Each place that lists channels (the API's ``channels`` field, the preferences document, the
fan-out in ``service.notify``, the delivery worker, the metrics) reads :data:`REGISTRY`; a new
channel is one :class:`ChannelSpec` here. ``in_app`` is not a transport (see
:mod:`notifier.channels.in_app`); the others are built from a plain config mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel as the rest of the application sees it.

    ``requires``: the config keys that must all be set before it can send (CONTRACT §2);
    ``per_user``: users switch it on and off in their preferences (webhooks belong to the
    tenant), starting ``default_on``; ``build``: the transport's class, None for ``in_app``
    (the inbox row is the delivery); ``tenant_posts``: one post per tenant integration.
    """

    name: str
    label: str
    requires: tuple[str, ...] = ()
    per_user: bool = True
    default_on: bool = True
    build: Callable[[Mapping[str, Any]], Channel] | None = None
    #: Sent once per tenant integration for the recipients who allow it (chat), not per user.
    tenant_posts: bool = False


REGISTRY: dict[str, ChannelSpec] = {
    spec.name: spec
    for spec in (
        ChannelSpec("in_app", "In-app"),
        ChannelSpec("email", "Email", EmailChannel.requires, build=EmailChannel),
        ChannelSpec("push", "Push", PushChannel.requires, build=PushChannel),
        ChannelSpec("sms", "SMS", SmsChannel.requires, default_on=False, build=SmsChannel),
        ChannelSpec("webhook", "Webhook", per_user=False, build=WebhookChannel),
        ChannelSpec("chat", "Chat", tenant_posts=True, build=ChatChannel),
    )
}

#: Every channel a notification may name, in display order.
CHANNEL_NAMES = tuple(REGISTRY)
#: The channels a user's preferences switch (global switches and the type matrix).
USER_CHANNELS = tuple(name for name, spec in REGISTRY.items() if spec.per_user)
#: The channels the delivery worker sends through (each has a Delivery row per send).
EXTERNAL_CHANNELS = tuple(name for name, spec in REGISTRY.items() if spec.build is not None)

__all__ = [
    "CHANNEL_NAMES",
    "EXTERNAL_CHANNELS",
    "REGISTRY",
    "USER_CHANNELS",
    "Channel",
    "ChannelSpec",
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
    "configured",
    "is_gone",
]


def configured(name: str, cfg: Mapping[str, Any]) -> bool:
    """Return True when every setting channel ``name`` needs is present in ``cfg``."""
    return all(cfg.get(key) for key in REGISTRY[name].requires)


def build_channels(cfg: Mapping[str, Any]) -> dict[str, Channel]:
    """Return the configured external channels by name; webhook is always there."""
    return {
        name: spec.build(cfg)
        for name, spec in REGISTRY.items()
        if spec.build is not None and configured(name, cfg)
    }
