"""Readiness against real dependencies: a Redis outage degrades, a lost database drains."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from notifier.extensions import db, state
from tests.conftest import make_app
from tests.fixtures_postgres import PostgresServer
from tests.fixtures_redis import RedisServer
from tests.test_bus_contract import wait_until


def bus_degraded(client: FlaskClient) -> str:
    """Return the value of notifier_bus_degraded on /metrics (the test client is loopback)."""
    text = client.get("/metrics").get_data(as_text=True)
    lines = [ln for ln in text.splitlines() if ln.startswith("notifier_bus_degraded ")]
    assert len(lines) == 1, text
    return lines[0].split()[1]


@pytest.mark.redis
def test_readyz_stays_200_and_reports_degraded_while_redis_is_down(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'r.sqlite'}", REDIS_URL=redis_url)
    broker = state(app).broker
    broker.backoff_base = broker.backoff_cap = 0.05  # reconnect promptly once Redis is back
    broker.start()
    client = app.test_client()
    try:
        ok = client.get("/readyz")
        assert ok.status_code == 200 and ok.get_json()["status"] == "ready"
        assert bus_degraded(client) == "0.0"
        redis_server.stop()
        assert wait_until(lambda: not broker.available())
        down = client.get("/readyz")
        assert down.status_code == 200
        body = down.get_json()
        assert body["status"] == "degraded" and body["degraded"] == ["redis"]
        assert body["checks"] == {"database": "ok", "bus": "redis", "redis": "unavailable"}
        assert bus_degraded(client) == "1.0"
        redis_server.start()
        assert wait_until(broker.available)
        assert client.get("/readyz").get_json()["status"] == "ready"
        assert bus_degraded(client) == "0.0"
    finally:
        broker.stop()
        if not redis_server.running:
            redis_server.start()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.postgres
def test_readyz_is_503_when_this_process_cannot_reach_its_database(
    postgres_server: PostgresServer, fresh_postgres_url: str
) -> None:
    app = make_app(fresh_postgres_url)
    client = app.test_client()
    try:
        assert client.get("/readyz").status_code == 200
        postgres_server.drop_database(str(make_url(fresh_postgres_url).database))
        resp = client.get("/readyz")
        assert resp.status_code == 503
        body = resp.get_json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"].startswith("error: ")
    finally:
        with app.app_context():
            db.engine.dispose()
