"""A PostgreSQL restart, reproduced by killing every pooled connection: requests still succeed.

The real throwaway cluster (tests/fixtures_postgres.py) terminates the app's backends with
``pg_terminate_backend``, which is what a restart does to a pool. Requests then run through
the test client; a retried request is one whose connection died before it wrote anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from notifier import config
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


@contextmanager
def kill_own_backend_on(
    app: Flask, server: PostgresServer, event_name: str, when: Callable[..., bool]
) -> Iterator[list[int]]:
    """Terminate the connection's own backend the first time ``when(*event args)`` holds."""
    with app.app_context():
        engine = db.engine
    killed: list[int] = []

    def listener(conn: Any, *args: Any) -> None:
        if not killed and when(*args):
            killed.append(conn.connection.dbapi_connection.info.backend_pid)
            terminate(server, database(app), killed[0])

    event.listen(engine, event_name, listener)
    try:
        yield killed
    finally:
        event.remove(engine, event_name, listener)


def counting_inserts(app: Flask) -> tuple[list[str], Callable[[], None]]:
    """Record every INSERT INTO notifications the app runs; return (log, stop)."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def listener(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO notifications"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listener)


def test_a_publish_whose_connection_died_before_commit_is_run_again_once(
    pg_app: Flask, postgres_server: PostgresServer
) -> None:
    who = people(pg_app)
    inserts, stop = counting_inserts(pg_app)
    try:
        # The notification row is written; the backend dies before the transaction commits.
        with kill_own_backend_on(
            pg_app,
            postgres_server,
            "after_cursor_execute",
            lambda _cur, stmt, *_: stmt.startswith("INSERT INTO notifications"),
        ) as killed:
            resp = publish(pg_app, who, "once", key="k1")
    finally:
        stop()
    assert killed and len(inserts) == 2  # the first attempt's row died with its transaction
    assert resp.status_code == 201, resp.get_json()
    assert stored(pg_app) == 1
    again = publish(pg_app, who, "once", key="k1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert stored(pg_app) == 1


def test_a_connection_lost_during_commit_is_not_run_again(
    pg_app: Flask, postgres_server: PostgresServer
) -> None:
    who = people(pg_app)
    inserts, stop = counting_inserts(pg_app)
    try:
        # The notification's COMMIT may or may not have reached the server: only the client
        # (with its key) can decide to retry.
        with kill_own_backend_on(
            pg_app, postgres_server, "commit", lambda: bool(inserts)
        ) as killed:
            lost = publish(pg_app, who, "maybe", key="k2")
    finally:
        stop()
    assert killed and len(inserts) == 1 and lost.status_code == 500
    assert stored(pg_app) == 0  # here the server never got the COMMIT
    again = publish(pg_app, who, "maybe", key="k2")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert stored(pg_app) == 1


def test_a_connection_lost_after_the_answer_keeps_the_answer(
    pg_app: Flask, postgres_server: PostgresServer
) -> None:
    who = people(pg_app)
    armed: list[int] = []

    @pg_app.after_request
    def kill_after_answer(resp: Any) -> Any:
        # A read leaves its transaction open until teardown; the restart lands right here.
        if armed and armed[0] == 0:
            pid = db.session.connection().connection.dbapi_connection.info.backend_pid
            armed[0] = terminate(postgres_server, database(pg_app), pid)
        return resp

    client = pg_app.test_client()
    assert publish(pg_app, who, "kept").status_code == 201
    armed.append(0)
    resp = client.get(URL, headers=who.alice_h)
    assert armed == [1]
    assert resp.status_code == 200
    assert [n["title"] for n in resp.get_json()["items"]] == ["kept"]
    assert client.get(URL, headers=who.alice_h).status_code == 200


def test_pool_options_come_from_the_environment(fresh_postgres_url: str) -> None:
    env = config.from_environ(
        {
            "NOTIFIER_DB_POOL_PRE_PING": "0",
            "NOTIFIER_DB_POOL_SIZE": "3",
            "NOTIFIER_DB_POOL_RECYCLE": "60",
        }
    )
    for extra, (pre_ping, size, recycle) in (({}, (True, 5, 1800)), (env, (False, 3, 60))):
        app = make_app(fresh_postgres_url, **extra)
        with app.app_context():
            pool = db.engine.pool
            assert (pool._pre_ping, pool.size(), pool._recycle) == (pre_ping, size, recycle)
            db.engine.dispose()
