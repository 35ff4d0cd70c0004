"""The only write path: notify, mark, delete, preferences, accounts. Commits, then publishes."""

from notifier.service import accounts, events, inbox, notify, preferences
from notifier.service.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationError

__all__ = [
    "Conflict",
    "Forbidden",
    "NotFound",
    "ServiceError",
    "ValidationError",
    "accounts",
    "events",
    "inbox",
    "notify",
    "preferences",
]
