"""Login limits key on the client behind NOTIFIER_TRUSTED_PROXIES hops, and on the account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request
from flask.testing import FlaskClient

from notifier.extensions import db
from tests.conftest import make_app
from tests.factories import PASSWORD, make_user

Factory = Callable[..., Flask]


@pytest.fixture
def limited(tmp_path: Any) -> Iterator[Factory]:
    """Build apps with the limiter on; the defaults leave the other login limit out of reach."""
    apps: list[Flask] = []

    def build(**cfg: Any) -> Flask:
        settings = {
            "RATELIMIT_ENABLED": True,
            "NOTIFIER_RATE_LIMIT_LOGIN": "100/minute",
            "NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT": "100/minute",
            **cfg,
        }
        app = make_app(f"sqlite:///{tmp_path / f'login{len(apps)}.sqlite'}", **settings)

        @app.get("/_whoami")
        def whoami() -> Any:
            return jsonify({"addr": request.remote_addr, "scheme": request.scheme})

        with app.app_context():
            make_user("alice@example.com")
            make_user("bob@example.com")
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def attempt(
    client: FlaskClient,
    email: str,
    *,
    password: str = "wrong-password",  # noqa: S107 - a test value
    forwarded: str | None = None,
    peer: str = "127.0.0.1",
) -> int:
    """Post the login form from ``peer`` (optionally with X-Forwarded-For); return the status."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    resp = client.post(
        "/login",
        data={"email": email, "password": password},
        headers=headers,
        environ_base={"REMOTE_ADDR": peer},
    )
    return resp.status_code


def test_behind_one_trusted_proxy_each_client_has_its_own_bucket(limited: Factory) -> None:
    app = limited(NOTIFIER_TRUSTED_PROXIES=1, NOTIFIER_RATE_LIMIT_LOGIN="2/minute")
    client = app.test_client()
    # Everyone arrives from the proxy's address; only X-Forwarded-For tells them apart.
    first = [attempt(client, f"x{i}@example.com", forwarded="203.0.113.7") for i in range(3)]
    assert first == [401, 401, 429]
    assert attempt(client, "y@example.com", forwarded="198.51.100.9") == 401
    # A spoofed entry in front of the proxy's own counts for nothing: the last hop is used.
    assert attempt(client, "z@example.com", forwarded="198.51.100.9, 203.0.113.7") == 429
    seen = client.get(
        "/_whoami", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    )
    assert seen.get_json() == {"addr": "203.0.113.7", "scheme": "https"}


def test_without_trusted_proxies_the_header_is_ignored(limited: Factory) -> None:
    app = limited(NOTIFIER_RATE_LIMIT_LOGIN="2/minute")
    client = app.test_client()
    statuses = [attempt(client, f"x{i}@example.com", forwarded=f"198.51.100.{i}") for i in range(3)]
    # A new made-up address on every attempt does not escape the peer's bucket.
    assert statuses == [401, 401, 429]
    seen = client.get("/_whoami", headers={"X-Forwarded-For": "198.51.100.1"})
    assert seen.get_json() == {"addr": "127.0.0.1", "scheme": "http"}


def test_the_account_limit_holds_across_client_addresses(limited: Factory) -> None:
    app = limited(NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT="2/minute")
    client = app.test_client()
    peers = ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")
    # The same account, spelled as check_login would find it, from a new address each time.
    spellings = ("alice@example.com", "ALICE@example.com", "Alice@Example.COM")
    statuses = [attempt(client, e, peer=p) for e, p in zip(spellings, peers, strict=False)]
    assert statuses == [401, 401, 429]
    # Once breached it refuses even the right password, or the limit would be an oracle.
    assert attempt(client, "alice@example.com", password=PASSWORD, peer=peers[3]) == 429
    # Other accounts, from the same addresses, are not affected.
    assert attempt(client, "bob@example.com", password=PASSWORD, peer=peers[0]) == 302


def test_the_account_limit_counts_failures_only(limited: Factory) -> None:
    app = limited(NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT="2/minute")
    for _ in range(3):  # A user signing in on several devices is never locked out.
        assert attempt(app.test_client(), "alice@example.com", password=PASSWORD) == 302
    client = app.test_client()
    assert [attempt(client, "alice@example.com") for _ in range(3)] == [401, 401, 429]
