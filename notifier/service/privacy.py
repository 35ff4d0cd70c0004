"""Privacy: export everything stored about a user, erase a user, keep an audit trail.

Both walk the SQLAlchemy metadata rather than a hand-kept list of tables, so a table another
module adds later is exported and erased without touching this file: a table is *about* a
user when it has a foreign key to ``users.id`` or a ``user_id`` column, and rows that point
(by foreign key) at rows being erased are erased first. A nullable foreign key to users
under another name (``created_by``) is set to NULL instead: the row is the tenant's, only
the pointer is the user's.

Audit entries name the subject and the actor by a keyed hash of the user id
(:func:`opaque_id`), never by email or id, so they hold no personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Table,
    delete,
    false,
    or_,
    select,
    update,
)
from werkzeug.security import check_password_hash

from notifier.extensions import db
from notifier.models import (
    ApiToken,
    AuditEntry,
    Delivery,
    Notification,
    PushSubscription,
    User,
    UserSession,
    utcnow,
)
from notifier.models_flows import WorkflowRun, WorkflowStep
from notifier.service import clean, sessions
from notifier.service import privacy_scrub as scrub
from notifier.service.errors import Forbidden, NotFound, ValidationError
from notifier.service.preferences import get_preferences
from notifier.service.serialize import iso, notification_dict, user_dict

EXPORT_VERSION = 1
DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
STEPS: Table = WorkflowStep.__table__  # type: ignore[assignment]
# Columns never exported, whatever table they sit in: credentials and key material.
SECRET_COLUMN = re.compile(r"(hash|secret|password|token|p256dh|^auth$|_key$)", re.IGNORECASE)
# Tables the generic walk leaves out of the "other" section: exported above in their own shape.
_SHAPED = {"users", "notifications", "deliveries", "preferences", "push_subscriptions"}
_SHAPED |= {"api_tokens", "user_sessions"}


def opaque_id(user_id: int) -> str:
    """Return a keyed hash of ``user_id``: stable for the audit log, meaningless without the key."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()


def actor_label(actor: User | str | None) -> str:
    """Return how the audit log names who acted: ``cli``, ``self`` or ``admin:<opaque id>``."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return f"{actor.role}:{opaque_id(actor.id)}"


def audit(action: str, tenant_id: int | None, subject_id: int, actor: User | str | None) -> None:
    """Add an audit entry to the session (the caller commits it with the change it records)."""
    db.session.add(
        AuditEntry(
            action=action,
            tenant_id=tenant_id,
            subject=opaque_id(subject_id),
            actor=actor_label(actor),
        )
    )


def user_columns(table: Table) -> list[Any]:
    """Return the columns of ``table`` that point at a user (foreign key or ``user_id``)."""
    cols = []
    for col in table.columns:
        if col.name == "user_id" or any(fk.column.table.name == "users" for fk in col.foreign_keys):
            cols.append(col)
    return cols


def _nullable_pointer(table: Table, col: Any) -> bool:
    """Return True for a foreign key to users that is set to NULL rather than deleted."""
    return table.name != "users" and col.name != "user_id" and bool(col.nullable)


def _plain(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def _row_dict(table: Table, row: Any) -> dict[str, Any]:
    return {
        c.name: _plain(row._mapping[c]) for c in table.columns if not SECRET_COLUMN.search(c.name)
    }


def export_user(user: User) -> dict[str, Any]:
    """Return one JSON-able document of everything stored about ``user`` (no secrets)."""
    uid = user.id
    notes = db.session.scalars(
        select(Notification).where(Notification.user_id == uid).order_by(Notification.id)
    ).all()
    inbox = []
    for n in notes:
        item = notification_dict(n)
        item["deleted_at"] = iso(n.deleted_at)
        inbox.append(item)
    deliveries = db.session.execute(
        select(Delivery.__table__).where(Delivery.user_id == uid).order_by(Delivery.id)
    ).all()
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == uid).order_by(ApiToken.id)
    ).all()
    pushes = db.session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == uid)
    ).all()
    account = user_dict(user)
    account.update(active=user.active, created_at=iso(user.created_at))
    doc: dict[str, Any] = {
        "version": EXPORT_VERSION,
        "exported_at": iso(utcnow()),
        "account": account,
        "notifications": inbox,
        "deliveries": [_row_dict(DELIVERIES, d) for d in deliveries],
        "preferences": get_preferences(uid),
        "push_subscriptions": [
            {"id": p.id, "endpoint": p.endpoint, "created_at": iso(p.created_at)} for p in pushes
        ],
        "tokens": [
            {
                "id": t.id,
                "name": t.name,
                "created_at": iso(t.created_at),
                "last_used_at": iso(t.last_used_at),
                "revoked_at": iso(t.revoked_at),
            }
            for t in tokens
        ],
        "sessions": [
            {"id": r.id, "created_at": iso(r.created_at)}
            for r in db.session.scalars(select(UserSession).where(UserSession.user_id == uid))
        ],
    }
    doc["other"] = _other_tables(uid)
    # A run's steps point at the run, not at the user: the generic walk would miss them.
    steps = db.session.execute(
        select(WorkflowStep.__table__)
        .join(WorkflowRun, WorkflowRun.id == WorkflowStep.run_id)
        .where(WorkflowRun.user_id == uid)
        .order_by(WorkflowStep.run_id, WorkflowStep.position)
    ).all()
    if steps:
        doc["other"]["workflow_steps"] = [_row_dict(STEPS, r) for r in steps]
    return doc


def _other_tables(uid: int) -> dict[str, list[dict[str, Any]]]:
    """Return the rows of every other table about ``uid``, secret columns left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in db.metadata.sorted_tables:
        if table.name in _SHAPED:
            continue
        cols = user_columns(table)
        if not cols:
            continue
        rows = db.session.execute(select(table).where(or_(*(c == uid for c in cols)))).all()
        if rows:
            out[table.name] = [_row_dict(table, r) for r in rows]
    return out


def cascade(seeds: dict[str, ColumnElement[bool]]) -> dict[str, ColumnElement[bool]]:
    """Return, per table, the WHERE clause of its rows that go with the ``seeds`` rows.

    A row goes when its table's seed clause selects it or when a foreign key of it points at
    a row that goes (computed parents first, so the sub-selects read rows not yet deleted).
    """
    conds: dict[str, ColumnElement[bool]] = {}
    for table in db.metadata.sorted_tables:  # parents before children
        parts = [seeds[table.name]] if table.name in seeds else []
        for col in table.columns:
            for fk in col.foreign_keys:
                parent = fk.column.table
                if parent.name not in conds or parent is table:
                    continue
                parts.append(col.in_(select(fk.column).where(conds[parent.name])))
        if parts:
            conds[table.name] = or_(false(), *parts)
    return conds


def delete_cascading(conds: dict[str, ColumnElement[bool]]) -> None:
    """Delete the rows :func:`cascade` selected, children before parents."""
    for table in reversed(db.metadata.sorted_tables):
        if table.name in conds:
            db.session.execute(delete(table).where(conds[table.name]))


def _erase_conditions(uid: int) -> dict[str, ColumnElement[bool]]:
    """Return, per table, the WHERE clause selecting its rows to delete for ``uid``."""
    seeds: dict[str, ColumnElement[bool]] = {"users": User.__table__.c.id == uid}
    for table in db.metadata.sorted_tables:
        parts = [col == uid for col in user_columns(table) if not _nullable_pointer(table, col)]
        if parts and table.name != "users":
            seeds[table.name] = or_(*parts)
    return cascade(seeds)


def erase_user(user: User, actor: User | str | None) -> None:
    """Delete ``user`` and every row about them, close their streams, audit it.

    ``actor`` is the admin who erased them, ``"self"`` or ``"cli"``. One transaction: a
    failure leaves everything as it was.
    """
    uid, tenant_id = user.id, user.tenant_id
    scrub.schedules(user)
    scrub.tenant_deliveries(user)
    for table in db.metadata.sorted_tables:
        for col in user_columns(table):
            if _nullable_pointer(table, col):
                db.session.execute(update(table).where(col == uid).values({col.name: None}))
    delete_cascading(_erase_conditions(uid))
    audit("erase_user", tenant_id, uid, actor)
    db.session.commit()
    if user in db.session:
        db.session.expunge(user)
    # The rows are gone; streams open on any process close now (the bus close message).
    sessions.close_streams(_Gone(uid, tenant_id))  # type: ignore[arg-type]


class _Gone:
    """What close_streams needs of a user that no longer has a row."""

    def __init__(self, uid: int, tenant_id: int) -> None:
        self.id, self.tenant_id = uid, tenant_id


def erase_self(user: User, password: Any) -> None:
    """Erase ``user`` after checking their password: 422 when missing, 403 when wrong."""
    if not isinstance(password, str) or not password:
        raise ValidationError("password required", fields={"password": "required"})
    if not check_password_hash(user.password_hash, password):
        raise Forbidden("wrong password", code="wrong_password")
    erase_user(user, "self")


def tenant_user(tenant_id: int, user_id: int) -> User:
    """Return the user ``user_id`` of ``tenant_id``; 404 for a missing or other-tenant one."""
    user = db.session.get(User, user_id) if 0 < user_id <= clean.id_max(User.id) else None
    if user is None or user.tenant_id != tenant_id:
        raise NotFound("no such user")
    return user


def record_export(user: User, actor: User | str | None) -> None:
    """Audit an export made by someone other than the user (an admin, the CLI)."""
    audit("export_user", user.tenant_id, user.id, actor)
    db.session.commit()
