"""A PostgreSQL restart, reproduced by killing every pooled connection: requests still succeed.

The real throwaway cluster (tests/fixtures_postgres.py) terminates the app's backends with
``pg_terminate_backend``, which is what a restart does to a pool. Requests then run through
the test client; a retried request is one whose connection died before it wrote anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from notifier.extensions import db
from notifier.models import Notification
from tests.conftest import make_app
from tests.factories import make_world
from tests.fixtures_postgres import PostgresServer

pytestmark = pytest.mark.postgres
URL = "/api/v1/notifications"


@pytest.fixture(params=["pre-ping", "no-pre-ping"])
def pg_app(request: pytest.FixtureRequest, fresh_postgres_url: str) -> Iterator[Flask]:
    """An app on its own database, with pre-ping (the default) and without (retry alone).

    No app context stays pushed: each request gets its own session and gives its connection
    back to the pool at teardown, as under gunicorn.
    """
    app = make_app(
        fresh_postgres_url,
        NOTIFIER_DB_POOL_PRE_PING=request.param == "pre-ping",
        PROPAGATE_EXCEPTIONS=False,  # a failure answers 500, as in production
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@dataclass
class People:
    """Who publishes and who reads, as plain values (no ORM objects across contexts)."""

    admin_h: dict[str, str]
    alice_h: dict[str, str]
    alice_id: int


def people(app: Flask) -> People:
    """Create the test world and return the headers and ids the requests need."""
    with app.app_context():
        world = make_world()
        return People(world.admin_h, world.alice_h, world.alice.id)


def terminate(server: PostgresServer, dbname: str, pid: int | None = None) -> int:
    """End the backends of ``dbname`` (or just ``pid``) and wait until they are gone."""
    with server.connect_admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() AND (%s::int IS NULL OR pid = %s)",
            (dbname, pid, pid),
        ).fetchall()
    return len(rows)


def stored(app: Flask) -> int:
    """Return how many notifications are committed."""
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Notification)) or 0)


def publish(app: Flask, who: People, title: str, key: str | None = None) -> Any:
    """POST one notification to alice as the acme admin."""
    headers = {**who.admin_h, **({"Idempotency-Key": key} if key else {})}
    body = {"user_id": who.alice_id, "type": "deploy", "title": title, "channels": ["in_app"]}
    return app.test_client().post(URL, json=body, headers=headers)


def database(app: Flask) -> str:
    """Return the name of the app's database."""
    return str(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)


def test_requests_after_every_pooled_connection_died_succeed(
    pg_app: Flask, postgres_server: PostgresServer
) -> None:
    who = people(pg_app)
    client = pg_app.test_client()
    assert client.get(URL, headers=who.alice_h).status_code == 200  # the pool holds one now
    assert publish(pg_app, who, "before").status_code == 201
    assert terminate(postgres_server, database(pg_app)) >= 1
    read = client.get(URL, headers=who.alice_h)
    assert read.status_code == 200, read.get_json()
    assert [n["title"] for n in read.get_json()["items"]] == ["before"]
    assert terminate(postgres_server, database(pg_app)) >= 1
    write = publish(pg_app, who, "after")
    assert write.status_code == 201, write.get_json()
    assert stored(pg_app) == 2  # each written once


def test_a_connection_lost_after_a_write_is_not_retried(
    pg_app: Flask, postgres_server: PostgresServer
) -> None:
    who = people(pg_app)
    dbname = database(pg_app)
    inserts: list[int] = []

    def kill_own_backend(conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        # The notification row is written; the backend dies before the transaction commits.
        if statement.startswith("INSERT INTO notifications") and not inserts:
            inserts.append(conn.connection.dbapi_connection.info.backend_pid)
            terminate(postgres_server, dbname, inserts[0])

    with pg_app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", kill_own_backend)
    try:
        lost = publish(pg_app, who, "once", key="k1")
    finally:
        event.remove(engine, "after_cursor_execute", kill_own_backend)
    assert len(inserts) == 1 and lost.status_code == 500  # ran once, not twice
    assert stored(pg_app) == 0  # the server rolled back what the dead connection had not committed
    again = publish(pg_app, who, "once", key="k1")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert stored(pg_app) == 1
