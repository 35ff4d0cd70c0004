"""Shared fixtures in the flaskr style: app, client, auth, factories; real servers via plugins."""

from __future__ import annotations

import warnings

from gevent import monkey

# The test process runs gevent-patched, as app.py and gunicorn's gevent workers do, so the code
# under test (the Redis brokers refuse anything else) meets the same cooperative sockets,
# threads and subprocesses. This is the earliest hook a checkout has: pytest's entry-point
# plugins (schemathesis via urllib3, anyio) already imported ssl, and urllib3 holds ssl's
# unpatched SSLContext; no test makes a TLS connection from this process, so the warning is
# silenced for exactly that case. Servers that need real OS threads (aiosmtpd's asyncio loop)
# run in subprocesses: tests/fixtures_receivers.py.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Monkey-patching ssl after ssl", monkey.MonkeyPatchWarning)
    monkey.patch_all()

import os  # noqa: E402 - after the patch, like everything below

if os.environ.get("PYTEST_XDIST_WORKER"):
    from tests.xdist_gevent import native_test_queue

    native_test_queue()

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier import create_app
from notifier.extensions import db
from tests import factories
from tests.factories import PASSWORD

pytest_plugins = [
    "tests.fixtures_redis",
    "tests.fixtures_redis_cluster",
    "tests.fixtures_postgres",
    "tests.fixtures_receivers",
    "tests.fixtures_live",
    "tests.fixtures_browser",
]


def make_app(database_url: str, **extra: Any) -> Flask:
    """Build an app on ``database_url`` with an empty schema and test settings."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "NOTIFIER_TESTING_FAST_HASH": True,
        "WTF_CSRF_ENABLED": False,
        "NOTIFIER_INSTANCE": "test",
        **extra,
    }
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


@pytest.fixture
def app(tmp_path: Any) -> Iterator[Flask]:
    """An app on a fresh SQLite file, with an app context pushed."""
    app = make_app(f"sqlite:///{tmp_path / 'test.sqlite'}")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Flask]:
    """The same app on SQLite and on a throwaway PostgreSQL cluster (service tests use both)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    app = make_app(url)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


class AuthActions:
    """Log in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, email: str = "alice@example.com", password: str = PASSWORD) -> Any:
        """Post the login form."""
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self) -> Any:
        """Post the logout form."""
        return self._client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    """Login helper bound to ``client``."""
    return AuthActions(client)


@pytest.fixture
def world(app: Flask) -> factories.World:
    """Two tenants: acme (admin, alice, bob) and globex (carol), with API tokens."""
    return factories.make_world()
