"""Operations routes at the site root: probes, Prometheus metrics and the service worker.

``/healthz`` and ``/readyz`` take no auth (load balancers call them); ``/metrics`` is for an
admin token or a loopback client; ``/sw.js`` is served from the root so the Web Push worker
may control every page.

Readiness is about this process only: it answers 503 when the process cannot serve a write
(its database connection fails, or the database is a read-only standby). A shared
dependency's outage is no reason to take every instance out of rotation at once: while Redis
is down the API still commits (201) and streams catch up when it returns, so Redis is
reported as ``degraded`` in the body and in the ``notifier_bus_degraded`` metric instead.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory
from sqlalchemy import text

from notifier import metrics_export
from notifier.auth import api_user
from notifier.extensions import db, state
from notifier.responses import error_response

ops = Blueprint("ops", __name__)


def init_app(app: Flask) -> None:
    """Register the ops routes."""
    app.register_blueprint(ops)


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


def _loopback_client() -> bool:
    """Return True for a direct (not proxied) request from this host."""
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False  # behind a proxy every request looks local; make those use a token
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@ops.get("/metrics")
def prometheus_metrics() -> Any:
    """Expose Prometheus text to an admin token or a loopback client; 403 otherwise."""
    if request.headers.get("Authorization"):
        if not api_user().is_admin:  # a bad token is 401 there
            return error_response(403, "admin role required")
    elif not _loopback_client():
        return error_response(403, "metrics are served to an admin token or a loopback client")
    body, content_type = metrics_export.exposition(current_app)
    return Response(body, content_type=content_type)


@ops.get("/sw.js")
def service_worker() -> Any:
    """Serve the Web Push service worker from the site root so it may control every page."""
    folder = Path(current_app.static_folder or "static")
    resp = send_from_directory(folder, "sw.js", mimetype="application/javascript", max_age=0)
    resp.headers["Service-Worker-Allowed"] = "/"
    # Browsers re-check a worker at most daily anyway; no-cache lets a deploy reach them sooner.
    resp.headers["Cache-Control"] = "no-cache"
    return resp
