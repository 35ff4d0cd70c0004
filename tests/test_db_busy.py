"""A full database pool answers 503 with Retry-After soon, not a 500 after 30 seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import db
from tests.conftest import make_app
from tests.factories import PASSWORD, make_world


@pytest.fixture
def one_connection_app(fresh_postgres_url: str) -> Iterator[Flask]:
    """An app whose pool lends one connection and waits one second for it.

    No app context stays pushed: each request pushes its own, whose session gives the
    connection back at teardown as in a server.
    """
    app = make_app(
        fresh_postgres_url,
        NOTIFIER_DB_POOL_SIZE=1,
        NOTIFIER_DB_MAX_OVERFLOW=0,
        NOTIFIER_DB_POOL_TIMEOUT=1,
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def world_of(app: Flask) -> dict[str, Any]:
    """Create the test world; return alice's id and the headers as plain values."""
    with app.app_context():
        world = make_world()
        plain = {
            "alice_id": world.alice.id,
            "admin_h": world.admin_h,
            "alice_h": world.alice_h,
        }
        db.session.remove()
    return plain


def held_connection(app: Flask) -> Any:
    """Check out the pool's only connection, as a long request would."""
    with app.app_context():
        return db.engine.connect()


def test_the_api_answers_503_json_with_retry_after_while_the_pool_is_empty(
    one_connection_app: Flask,
) -> None:
    world = world_of(one_connection_app)
    client = one_connection_app.test_client()
    assert client.get("/api/v1/notifications", headers=world["alice_h"]).status_code == 200
    with held_connection(one_connection_app):  # another request holds the only connection
        resp = client.get("/api/v1/notifications", headers=world["alice_h"])
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "2"
    assert resp.get_json()["error"]["code"] == "db_busy"
    # The connection is back: the same request is answered again.
    assert client.get("/api/v1/notifications", headers=world["alice_h"]).status_code == 200


def test_a_publish_during_a_full_pool_stores_nothing_and_can_be_retried(
    one_connection_app: Flask,
) -> None:
    world = world_of(one_connection_app)
    client = one_connection_app.test_client()
    body = {"type": "comment", "title": "later", "user_id": world["alice_id"]}
    with held_connection(one_connection_app):
        assert (
            client.post("/api/v1/notifications", json=body, headers=world["admin_h"]).status_code
            == 503
        )
    assert (
        client.post("/api/v1/notifications", json=body, headers=world["admin_h"]).status_code == 201
    )
    listed = client.get("/api/v1/notifications", headers=world["alice_h"]).get_json()
    assert [n["title"] for n in listed["items"]] == ["later"]


def test_a_page_answers_a_short_503_page(one_connection_app: Flask) -> None:
    world_of(one_connection_app)
    client: FlaskClient = one_connection_app.test_client()
    login = client.post("/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert login.status_code == 302
    with held_connection(one_connection_app):
        resp = client.get("/")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "2"
    assert "Notifier is busy" in resp.get_data(as_text=True)
