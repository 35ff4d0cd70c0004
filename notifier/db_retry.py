"""Survive a database restart: pool options, and one retry of a request that wrote nothing.

A PostgreSQL restart kills every pooled connection. ``pool_pre_ping`` (on by default) finds
them at checkout and reconnects, but a connection can still die under a request (the restart
happens while it runs, or pre-ping is off), and a request arriving while the server is down
cannot connect at all. :class:`RetryingFlask` runs such a request once more, after waiting
for the database to accept connections again, but only when that cannot write anything twice:

- the error is a lost connection or a failed connect (not a constraint, not a timeout);
- no ``COMMIT`` was attempted in the request: a connection lost *during* ``COMMIT`` leaves
  the outcome unknown, so that request answers 500 and the client retries with its key;
- no INSERT, UPDATE or DELETE succeeded in it, so nothing outside the database (a mail, a
  publish) can have followed a write. The server rolls back what a dead connection had not
  committed, so even then the database itself would hold nothing of the first attempt.

Streams are not retried here: once a view returned its generator, the stream's own
reconnect (Last-Event-ID) covers a database restart.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, has_request_context
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from notifier.extensions import db

log = logging.getLogger(__name__)


def engine_options(cfg: dict[str, Any], url: str) -> dict[str, Any]:
    """Return SQLALCHEMY_ENGINE_OPTIONS from the NOTIFIER_DB_* keys; explicit options win."""
    opts: dict[str, Any] = {"pool_pre_ping": bool(cfg.get("NOTIFIER_DB_POOL_PRE_PING", True))}
    if not url.startswith("sqlite"):  # SQLite's pools take no size options
        opts["pool_size"] = int(cfg.get("NOTIFIER_DB_POOL_SIZE", 5))
        opts["max_overflow"] = int(cfg.get("NOTIFIER_DB_MAX_OVERFLOW", 10))
        opts["pool_recycle"] = int(cfg.get("NOTIFIER_DB_POOL_RECYCLE", 1800))
    return {**opts, **(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})}


@dataclass
class _Unit:
    """What the current request did to the database so far."""

    committed: bool = False
    wrote: bool = False


def _unit() -> _Unit | None:
    return g.get("_db_unit") if has_request_context() else None


@event.listens_for(Session, "before_commit")
def _on_commit(_session: Session) -> None:
    unit = _unit()
    if unit is not None:
        unit.committed = True


@event.listens_for(Engine, "after_cursor_execute")
def _on_execute(
    _conn: Any, _cursor: Any, _stmt: str, _params: Any, context: Any, _many: bool
) -> None:
    unit = _unit()
    if (
        unit is not None
        and context is not None
        and (context.isinsert or context.isupdate or context.isdelete)
    ):
        unit.wrote = True


def lost_connection(exc: BaseException) -> bool:
    """Return True for a connection that died under a statement or could not be opened."""
    if not isinstance(exc, DBAPIError):
        return False
    # connection_invalidated: the dialect saw a disconnect; statement None: the pool's connect.
    return bool(exc.connection_invalidated) or (
        isinstance(exc, OperationalError) and exc.statement is None
    )


def wait_for_database(seconds: float) -> bool:
    """Poll with short connects until the database answers or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    delay = 0.05
    while True:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            if time.monotonic() + delay > deadline:
                return False
            time.sleep(delay)  # gevent-patched under gunicorn: other requests keep running
            delay = min(delay * 2, 0.5)


class RetryingFlask(Flask):
    """Flask whose dispatch runs a request once more after a lost database connection."""

    def dispatch_request(self) -> Any:
        """Dispatch; on a lost connection before any write or commit, wait and run again."""
        g._db_unit = unit = _Unit()
        try:
            return super().dispatch_request()
        except DBAPIError as exc:
            wait = float(self.config.get("NOTIFIER_DB_RETRY_WAIT", 0))
            if wait <= 0 or unit.committed or unit.wrote or not lost_connection(exc):
                raise
            log.warning("database connection lost (%s); retrying the request once", exc.orig)
            db.session.rollback()
            wait_for_database(wait)
        g._db_unit = _Unit()
        return super().dispatch_request()  # a second failure answers as any error does
