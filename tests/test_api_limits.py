"""Rate limits: publishing per user, per-address limits, 429 with Retry-After, shared Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, jsonify
from limits import parse_many

from notifier.config import Config
from notifier.extensions import db
from notifier.limits import EXTENSION, ip_key, rate_limit, storage_uri
from notifier.service import accounts
from tests.conftest import make_app
from tests.factories import bearer, make_world

URL = "/api/v1/notifications"


def body(user_id: int) -> dict[str, Any]:
    """Return a publish body for one user."""
    return {"user_id": user_id, "type": "comment", "title": "x", "channels": ["in_app"]}


@contextmanager
def app_context(app: Flask) -> Iterator[Flask]:
    """Push an app context and release its database connections afterwards."""
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def limited_app(tmp_path: Any) -> Iterator[Flask]:
    """An app with the limiter on, small limits, and two views behind a per-address limit."""
    app = make_app(
        f"sqlite:///{tmp_path / 'limits.sqlite'}",
        RATELIMIT_ENABLED=True,
        NOTIFIER_RATE_LIMIT_PUBLISH="3/minute",
        NOTIFIER_RATE_LIMIT_LOGIN="2/minute",
    )

    @rate_limit("NOTIFIER_RATE_LIMIT_LOGIN", key_func=ip_key, methods=["POST"])
    def guarded() -> Any:
        return jsonify({"ok": True})

    app.add_url_rule("/api/v1/_guarded", "api_guarded", guarded, methods=["GET", "POST"])
    app.add_url_rule("/_guarded_page", "page_guarded", guarded, methods=["POST"])
    with app_context(app):
        yield app


def test_publishing_is_limited_per_user(limited_app: Flask) -> None:
    world = make_world()
    client = limited_app.test_client()
    for _ in range(3):
        assert client.post(URL, headers=world.admin_h, json=body(world.alice.id)).status_code == 201
    resp = client.post(URL, headers=world.admin_h, json=body(world.alice.id))
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert client.get(URL, headers=world.alice_h).get_json()["total"] == 3
    assert client.post(URL, headers=world.carol_h, json=body(world.carol.id)).status_code == 201


def test_each_admin_token_has_its_own_publish_bucket(limited_app: Flask) -> None:
    world = make_world()
    client = limited_app.test_client()
    second = bearer(accounts.create_token(world.admin, "billing-service"))
    for _ in range(3):
        assert client.post(URL, headers=world.admin_h, json=body(world.alice.id)).status_code == 201
    assert client.post(URL, headers=world.admin_h, json=body(world.alice.id)).status_code == 429
    # Another integration of the same admin is not starved by the first one.
    assert client.post(URL, headers=second, json=body(world.alice.id)).status_code == 201


def test_members_cannot_publish_whatever_the_limit(limited_app: Flask) -> None:
    world = make_world()
    client = limited_app.test_client()
    assert [
        client.post(URL, headers=world.alice_h, json=body(world.alice.id)).status_code
        for _ in range(4)
    ] == [403] * 4


def test_the_default_publish_limit_fits_a_backend_service() -> None:
    windows = parse_many(Config.NOTIFIER_RATE_LIMIT_PUBLISH)
    # Sustained: every window allows at least 100 publishes a second on average.
    assert all(w.amount / w.get_expiry() >= 100 for w in windows)
    # Bursts: the shortest window allows more than the sustained rate for a moment.
    shortest = min(windows, key=lambda w: w.get_expiry())
    longest = max(windows, key=lambda w: w.get_expiry())
    assert shortest.get_expiry() == 1
    assert shortest.amount > longest.amount / longest.get_expiry()
    # Members' limit stays strict: ten login attempts a minute per address and per account.
    assert Config.NOTIFIER_RATE_LIMIT_LOGIN == Config.NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT
    assert parse_many(Config.NOTIFIER_RATE_LIMIT_LOGIN)[0].amount == 10


def test_address_limit_counts_only_its_methods_and_addresses(limited_app: Flask) -> None:
    client = limited_app.test_client()
    for _ in range(5):
        assert client.get("/api/v1/_guarded").status_code == 200
    assert [client.post("/api/v1/_guarded").status_code for _ in range(3)] == [200, 200, 429]
    other = client.post("/api/v1/_guarded", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_pages_get_429_with_retry_after_too(limited_app: Flask) -> None:
    client = limited_app.test_client()
    statuses = [client.post("/_guarded_page").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    resp = client.post("/_guarded_page")
    assert resp.mimetype == "text/html" and int(resp.headers["Retry-After"]) >= 1


def test_limiter_can_be_switched_off(tmp_path: Any) -> None:
    app = make_app(
        f"sqlite:///{tmp_path / 'off.sqlite'}",
        RATELIMIT_ENABLED=False,
        NOTIFIER_RATE_LIMIT_PUBLISH="1/minute",
    )
    with app_context(app):
        world = make_world()
        client = app.test_client()
        statuses = [
            client.post(URL, headers=world.admin_h, json=body(world.alice.id)).status_code
            for _ in range(3)
        ]
        assert statuses == [201, 201, 201]


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        ({}, "memory://"),
        ({"REDIS_URL": "redis://cache:6379/2"}, "redis://cache:6379/2"),
        ({"REDIS_HOST": "cache", "REDIS_PORT": 6380, "REDIS_DB": 1}, "redis://cache:6380/1"),
        ({"REDIS_URL": "unix:///run/redis.sock?db=1"}, "redis+unix:///run/redis.sock?db=1"),
        ({"REDIS_URL": "redis://cache", "RATELIMIT_STORAGE_URI": "memory://"}, "memory://"),
    ],
)
def test_counts_live_in_the_apps_redis_when_there_is_one(
    cfg: dict[str, Any], expected: str
) -> None:
    assert storage_uri(cfg) == expected


def post_from(app: Flask, token: str, user_id: int) -> int:
    """Publish to ``user_id`` through ``app``; return the status."""
    with app.app_context():
        resp = app.test_client().post(URL, headers=bearer(token), json=body(user_id))
        return resp.status_code


@pytest.mark.redis
def test_processes_sharing_redis_share_one_count(tmp_path: Any, redis_url: str) -> None:
    cfg = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": storage_uri({"REDIS_URL": redis_url}),
        "NOTIFIER_RATE_LIMIT_PUBLISH": "3/minute",
    }
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    # Two apps on one database and one Redis stand in for two worker processes.
    first, second = make_app(url, **cfg), make_app(url, **cfg)
    with app_context(first):
        world = make_world()
        token, alice = world.admin_token, world.alice.id
    statuses = [post_from(app, token, alice) for app in (first, second, first, second)]
    assert statuses == [201, 201, 201, 429]
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


def test_an_unreachable_store_never_blocks_publishing(tmp_path: Any) -> None:
    dead = f"redis+unix://{tmp_path / 'no-redis.sock'}"
    app = make_app(
        f"sqlite:///{tmp_path / 'dead.sqlite'}",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=dead,
        NOTIFIER_RATE_LIMIT_PUBLISH="2/minute",
    )
    with app_context(app):
        world = make_world()
        client = app.test_client()
        statuses = [
            client.post(URL, headers=world.admin_h, json=body(world.alice.id)).status_code
            for _ in range(3)
        ]
        # While Redis is unreachable the limiter counts in memory rather than failing requests.
        assert statuses == [201, 201, 429]
        assert app.extensions[EXTENSION].limiter.storage.check() is False
