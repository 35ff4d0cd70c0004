"""Flask extensions as unbound globals; create_app binds them with init_app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from notifier.bus.base import Broker
    from notifier.bus.hub import Hub

# Explicit constraint names so Alembic migrations are stable on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def core() -> Connection:
    """Return the session's connection, for Core statements in the session's transaction.

    ``db.session.execute`` of a Core statement costs ~75 µs more than the same statement on
    the connection (ORM execution hooks, bind lookup, autoflush checks): 105 against 29 µs
    for the one-recipient SELECT (bench/sa_overhead.py). The hot paths of a
    publish use this; a caller whose statement must see pending ORM changes flushes first.
    """
    return db.session.connection()


migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


@dataclass
class NotifierState:
    """Per-app runtime objects: the hub, the broker and the background workers."""

    hub: Hub
    broker: Broker
    instance: str
    workers: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def state(app: Flask | None = None) -> NotifierState:
    """Return the NotifierState of ``app`` (or the current app)."""
    return (app or current_app).extensions["notifier"]
