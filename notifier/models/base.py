"""What every model module shares: the declarative base, the id type, utcnow and enums."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Integer

from notifier.extensions import db

if TYPE_CHECKING:
    # Type checkers cannot follow Flask-SQLAlchemy's generated ``db.Model``; it subclasses
    # our declarative Base, which they do understand.
    from notifier.extensions import Base as Model
else:
    Model = db.Model

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ROLES = ("admin", "member")
PRIORITIES = ("low", "normal", "high", "urgent")


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (what both databases store)."""
    return datetime.now(UTC).replace(tzinfo=None)
