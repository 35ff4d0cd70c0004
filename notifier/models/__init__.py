"""Database models, one module per job; every name is importable from here as before.

- :mod:`.base`: the declarative base, the id type, ``utcnow``, roles and priorities;
- :mod:`.accounts`: tenants, users, API tokens, sign-ins, preferences, embeds, the audit log;
- :mod:`.notifications`: notifications, clicks, screen acks, the event log and cursors,
  idempotency keys, scheduled notifications, and the full-text search DDL;
- :mod:`.delivery`: webhook and chat endpoints, push subscriptions, deliveries.

Templates, workflows and activity live in ``notifier.models_flows``. Importing this package
maps every table (Flask-Migrate's autogenerate and ``db.create_all`` see them all).
"""

from __future__ import annotations

from notifier.models.accounts import (
    ApiToken,
    AuditEntry,
    Preference,
    Tenant,
    TenantEmbed,
    User,
    UserSession,
)
from notifier.models.base import (
    PRIORITIES,
    ROLES,
    BigId,
    Model,
    utcnow,
)
from notifier.models.delivery import (
    ChatIntegration,
    Delivery,
    PushSubscription,
    WebhookEndpoint,
)
from notifier.models.notifications import (
    PG_FTS_DDL,
    PG_FTS_EXPR,
    SQLITE_FTS_DDL,
    SQLITE_FTS_DROP,
    ActionClick,
    Event,
    EventCursor,
    IdempotencyKey,
    Notification,
    ScheduledNotification,
    ScreenAck,
    outside_autogenerate,
)

__all__ = [
    "ActionClick",
    "ApiToken",
    "AuditEntry",
    "BigId",
    "ChatIntegration",
    "Delivery",
    "Event",
    "EventCursor",
    "IdempotencyKey",
    "Model",
    "Notification",
    "outside_autogenerate",
    "PG_FTS_DDL",
    "PG_FTS_EXPR",
    "Preference",
    "PRIORITIES",
    "PushSubscription",
    "ROLES",
    "ScheduledNotification",
    "ScreenAck",
    "SQLITE_FTS_DDL",
    "SQLITE_FTS_DROP",
    "Tenant",
    "TenantEmbed",
    "User",
    "UserSession",
    "utcnow",
    "WebhookEndpoint",
]
