"""What: notifications, their clicks and screen acks, the event log, idempotency, schedules.

Also the hand-written full-text search DDL over notifications (SQLite FTS5, PostgreSQL GIN),
which autogenerate cannot compare (:func:`outside_autogenerate`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from notifier.models.base import BigId, Model, utcnow


class Notification(Model):
    """One notification in one user's inbox (fan-out on write)."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(2048))
    # ",a,b," so an exact tag match is one indexed-free LIKE that cannot match a substring.
    tags_text: Mapped[str] = mapped_column(String(1100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Inbox states (CONTRACT §9): shown in a visible list, archived, hidden until a time.
    seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime)
    group_key: Mapped[str | None] = mapped_column(String(255))
    # Up to 3 buttons: [{id, label, url?, style, callback?}] (CONTRACT §9).
    actions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Why it reached this inbox, decided when it was planned: [{rule, channel?, ...}] steps
    # ("Why am I seeing this?" reads it; recomputing later would answer with today's rules).
    decision: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The experiment arm this user was given (a stable hash of template and user), or None.
    variant: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_notifications_inbox", "user_id", "deleted_at", "id"),
        Index("ix_notifications_unread", "user_id", "read_at", "deleted_at"),
        Index("ix_notifications_created", "tenant_id", "created_at"),
        # Covers every column inbox stats count, so the one aggregate is an index-only scan.
        Index(
            "ix_notifications_states",
            "user_id",
            "deleted_at",
            "archived_at",
            "snoozed_until",
            "read_at",
            "seen_at",
        ),
        # The snooze due times: the scheduler loop wakes what is due with one range scan.
        Index("ix_notifications_snoozed", "snoozed_until"),
        Index("ix_notifications_group", "user_id", "group_key"),
    )

    @property
    def tags(self) -> list[str]:
        """Return the tags as a list."""
        return [t for t in self.tags_text.split(",") if t]

    @property
    def is_read(self) -> bool:
        """Return True once read."""
        return self.read_at is not None


class ActionClick(Model):
    """One click on a notification's action button: who, which action, when (for analytics)."""

    __tablename__ = "action_clicks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    clicked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_action_clicks_tenant", "tenant_id", "clicked_at"),)


class ScreenAck(Model):
    """A browser saying it rendered a notification: publish → on-screen latency, per tenant."""

    __tablename__ = "screen_acks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    notification_id: Mapped[int] = mapped_column(BigInteger)
    latency_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        # One ack per item and user: a second tab or a re-render does not count twice.
        UniqueConstraint("user_id", "notification_id", name="uq_screen_acks_user_notification"),
        Index("ix_screen_acks_tenant", "tenant_id", "created_at"),
    )


class EventCursor(Model):
    """Per-user cursor counter; the row lock orders concurrent writers for one user."""

    __tablename__ = "event_cursors"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    # Highest cursor removed by retention pruning; a resume from below it gets `reset`.
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)


class Event(Model):
    """One entry of a user's event log: what the SSE `id:` and the REST cursor point at."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    cursor: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("user_id", "cursor", name="uq_events_user_cursor"),)


class IdempotencyKey(Model):
    """A stored response for a POST replayed with the same Idempotency-Key."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)


class ScheduledNotification(Model):
    """A notify() call held until send_at; the scheduler loop releases it."""

    __tablename__ = "scheduled_notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    send_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # scheduled → sent | failed; a failed row is set aside (with why and when) for the admin
    # so that it never blocks the rows due after it.
    status: Mapped[str] = mapped_column(String(10), default="scheduled", server_default="scheduled")
    error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_scheduled_notifications_due", "status", "send_at"),)


# Full-text search over title and body, as hand-written DDL (autogenerate can compare
# neither): PostgreSQL a GIN index over the 'simple' tsvector (notifier/service/search.py
# queries the same expression); SQLite an FTS5 index kept by triggers (external content, so
# the text is stored once). The migration inbox01 creates the same.
SQLITE_FTS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS notifications_fts USING fts5("
    "title, body, content='notifications', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER IF NOT EXISTS notifications_fts_ai AFTER INSERT ON notifications BEGIN "
    "INSERT INTO notifications_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS notifications_fts_ad AFTER DELETE ON notifications BEGIN "
    "INSERT INTO notifications_fts(notifications_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS notifications_fts_au AFTER UPDATE OF title, body "
    "ON notifications BEGIN "
    "INSERT INTO notifications_fts(notifications_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO notifications_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
)
SQLITE_FTS_DROP = "DROP TABLE IF EXISTS notifications_fts"
PG_FTS_EXPR = "to_tsvector('simple'::regconfig, ((title)::text || ' '::text) || body)"
PG_FTS_DDL = (
    f"CREATE INDEX IF NOT EXISTS ix_notifications_fts ON notifications USING gin ({PG_FTS_EXPR})"
)


def _fts_create(target: Any, connection: Any, **kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        for stmt in SQLITE_FTS_DDL:
            connection.exec_driver_sql(stmt)
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(PG_FTS_DDL)


def _sqlite_fts_drop(target: Any, connection: Any, **kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(SQLITE_FTS_DROP)


event.listen(Notification.__table__, "after_create", _fts_create)
event.listen(Notification.__table__, "before_drop", _sqlite_fts_drop)


def outside_autogenerate(name: str | None, type_: str) -> bool:
    """Return True for schema objects made by hand-written DDL, which autogenerate cannot compare.

    The FTS5 table (and its shadow tables) and the PostgreSQL expression index; migrations
    and tests/test_migrations.py leave them out of the model comparison.
    """
    return bool(name) and str(name).startswith(("notifications_fts", "ix_notifications_fts"))
