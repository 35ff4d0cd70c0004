"""Liveness and readiness probes (no auth: load balancers call them).

Readiness is about this process only: it answers 503 when the process cannot serve a write
(its database connection fails, or the database is a read-only standby). A shared
dependency's outage is no reason to take every instance out of rotation at once: while Redis
is down the API still commits (201) and streams catch up when it returns, so Redis is
reported as ``degraded`` in the body and in the ``notifier_bus_degraded`` metric instead.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from notifier.extensions import db, state

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> Any:
    """Answer 200 while the process can serve requests."""
    return jsonify({"status": "ok"})


def _database_check() -> str:
    """Return "ok" when this process can reach a writable database, else what failed."""
    try:
        if db.engine.dialect.name == "postgresql":
            # A standby accepts SELECT 1 but refuses every commit the API would make.
            if db.session.execute(text("SELECT pg_is_in_recovery()")).scalar():
                return "error: read-only (in recovery)"
        else:
            db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # any driver error means not ready
        return f"error: {type(exc).__name__}"
    finally:
        db.session.rollback()


@ops.get("/readyz")
def readyz() -> Any:
    """Answer 200 while this process can serve and commit; 503 only for its own faults.

    ``status`` is ``ready``, ``degraded`` (Redis down: events commit and reach other
    processes' streams once it is back) or ``not ready``.
    """
    checks: dict[str, str] = {"database": _database_check()}
    broker = state().broker
    checks["bus"] = broker.mode
    degraded: list[str] = []
    if broker.mode == "redis":
        checks["redis"] = "ok" if broker.available() else "unavailable"
        if checks["redis"] != "ok":
            degraded.append("redis")
    ready = checks["database"] == "ok"
    status = "not ready" if not ready else ("degraded" if degraded else "ready")
    body = {"status": status, "checks": checks, "degraded": degraded}
    return jsonify(body), (200 if ready else 503)
