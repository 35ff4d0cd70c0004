"""Survive a database restart: pool options, one retry of a request, a safe teardown.

A PostgreSQL restart kills every pooled connection, and ``-m fast`` also ends the
transactions in flight. ``pool_pre_ping`` (on by default) finds dead pooled connections at
checkout and reconnects; :class:`RetryingFlask` covers the rest: a request whose connection
was lost (or could not be opened) is run once more, after waiting for the database to accept
connections again, but only when that cannot do anything twice:

- the error is a lost connection or a failed connect (not a constraint, not a timeout);
- it was not lost during a ``COMMIT``: that outcome is unknown, so the request answers 500
  and the client retries with its Idempotency-Key. A transaction that never sent its COMMIT
  was rolled back by the server: nothing of it is left to write twice;
- and the request cannot have acted outside the database or committed something that must
  not be repeated: it is a read (GET, HEAD, OPTIONS), or no statement had succeeded yet (a
  view always reads before it acts), or its view is marked :func:`retry_safe`.

Streams are not retried here: once a view returned its generator, the stream's own
reconnect (Last-Event-ID) covers a database restart. A connection that dies after the view
answered (a read left its transaction open) must not turn that answer into a 500 at teardown:
:func:`init_app` ends the session first and forgives a lost connection there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from notifier.extensions import db

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
F = Callable[..., Any]


def engine_options(cfg: dict[str, Any], url: str) -> dict[str, Any]:
    """Return SQLALCHEMY_ENGINE_OPTIONS from the NOTIFIER_DB_* keys; explicit options win."""
    opts: dict[str, Any] = {"pool_pre_ping": bool(cfg.get("NOTIFIER_DB_POOL_PRE_PING", True))}
    if not url.startswith("sqlite"):  # SQLite's pools take no size options
        opts["pool_size"] = int(cfg.get("NOTIFIER_DB_POOL_SIZE", 5))
        opts["max_overflow"] = int(cfg.get("NOTIFIER_DB_MAX_OVERFLOW", 10))
        opts["pool_recycle"] = int(cfg.get("NOTIFIER_DB_POOL_RECYCLE", 1800))
        opts["pool_timeout"] = int(cfg.get("NOTIFIER_DB_POOL_TIMEOUT", 2))
    return {**opts, **(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})}


def retry_safe(view: F) -> F:
    """Mark a view that may run again unless its COMMIT was lost (put it outermost).

    Its effects outside the database all follow its final commit, and any commit before
    that one is harmless to repeat (a token's last_used_at, the idempotency sweep).
    """
    view.db_retry_safe = True  # type: ignore[attr-defined]
    return view


@dataclass
class _Unit:
    """What the current request did to the database so far."""

    # A COMMIT was sent and not seen to finish: a failure now leaves the outcome unknown.
    committing: bool = False
    statements: int = 0


def _unit() -> _Unit | None:
    return g.get("_db_unit") if has_request_context() else None


@event.listens_for(Engine, "commit")
def _on_commit(_conn: Any) -> None:
    unit = _unit()
    if unit is not None:
        unit.committing = True


@event.listens_for(Session, "after_commit")
def _on_committed(_session: Any) -> None:
    unit = _unit()
    if unit is not None:
        unit.committing = False


@event.listens_for(Engine, "after_cursor_execute")
def _on_execute(*_: Any) -> None:
    unit = _unit()
    if unit is not None:
        unit.statements += 1
        unit.committing = False  # a later statement ran, so any COMMIT before it finished


# SQLSTATEs of a server that ends the session: connection exceptions, and the shutdown
# (57P01 admin, 57P02 crash) and start-up (57P03) codes a restart sends. psycopg reports them
# as an ordinary error result before the socket closes, so the dialect misses the disconnect.
_GONE = ("08", "57P01", "57P02", "57P03")


@event.listens_for(Engine, "handle_error")
def _server_gone(ctx: Any) -> None:
    # Marking it a disconnect makes SQLAlchemy invalidate this connection and the pool's older
    # ones, instead of pooling a dead connection for the next request to fail on.
    sqlstate = str(getattr(ctx.original_exception, "sqlstate", None) or "")
    if sqlstate.startswith(_GONE):
        ctx.is_disconnect = True


def lost_connection(exc: BaseException) -> bool:
    """Return True for a connection that died under a statement or could not be opened."""
    if not isinstance(exc, DBAPIError):
        return False
    # connection_invalidated: the dialect saw a disconnect; statement None: the pool's connect.
    return bool(exc.connection_invalidated) or (
        isinstance(exc, OperationalError) and exc.statement is None
    )


_probes: dict[str, Engine] = {}


def _probe_engine() -> Engine:
    """Return an unpooled engine on the app's database (one per URL, made on first need)."""
    url = db.engine.url.render_as_string(hide_password=False)
    probe = _probes.get(url)
    if probe is None:
        probe = _probes[url] = create_engine(url, poolclass=NullPool)
    return probe


def wait_for_database(seconds: float) -> bool:
    """Poll with fresh connections until the database answers or ``seconds`` pass.

    Not through the pool: during a fast shutdown a pooled backend not yet terminated still
    answers, and the retry would run into the same shutdown.
    """
    deadline = time.monotonic() + seconds
    delay = 0.05
    while True:
        try:
            with _probe_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            if time.monotonic() + delay > deadline:
                return False
            time.sleep(delay)  # gevent-patched under gunicorn: other requests keep running
            delay = min(delay * 2, 0.5)


def _may_retry(app: Flask, unit: _Unit) -> bool:
    """Return True when running the request again cannot repeat anything it did."""
    if unit.committing:
        return False
    view = app.view_functions.get(request.endpoint or "")
    return (
        request.method in SAFE_METHODS
        or unit.statements == 0
        or bool(getattr(view, "db_retry_safe", False))
    )


class RetryingFlask(Flask):
    """Flask whose dispatch runs a request once more after a lost database connection."""

    def dispatch_request(self) -> Any:
        """Dispatch; on a lost connection that is safe to retry, wait and run it again."""
        g._db_unit = unit = _Unit()
        try:
            return super().dispatch_request()
        except DBAPIError as exc:
            wait = float(self.config.get("NOTIFIER_DB_RETRY_WAIT", 0))
            if wait <= 0 or not lost_connection(exc) or not _may_retry(self, unit):
                raise
            db.session.rollback()
            t0 = time.monotonic()
            back = wait_for_database(wait)
            log.warning(
                "database connection lost (%s); %s after %.2f s, running the request again",
                str(exc.orig).splitlines()[0],
                "database back" if back else "database still down",
                time.monotonic() - t0,
            )
        g._db_unit = _Unit()
        return super().dispatch_request()  # a second failure answers as any error does


def init_app(app: Flask) -> None:
    """End each request's session before Flask-SQLAlchemy's teardown (call after db.init_app)."""

    @app.teardown_appcontext
    def _end_session(_exc: BaseException | None) -> None:
        # Teardown functions run last-registered first, so this precedes session.remove().
        try:
            db.session.rollback()
        except DBAPIError as err:
            if not lost_connection(err):
                raise
            # The answer is already built; the dead connection is invalidated, nothing to undo.
            log.info("database connection lost after the response: %s", err.orig)
