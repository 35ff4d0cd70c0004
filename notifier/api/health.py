"""Liveness and readiness probes (no auth: load balancers call them)."""

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


@ops.get("/readyz")
def readyz() -> Any:
    """Answer 200 when the database and (if configured) Redis are reachable, else 503."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    broker = state().broker
    checks["bus"] = broker.mode
    if broker.mode == "redis":
        checks["redis"] = "ok" if broker.available() else "unavailable"
    ready = checks["database"] == "ok" and checks.get("redis", "ok") == "ok"
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), (
        200 if ready else 503
    )
