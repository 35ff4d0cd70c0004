"""The per-process token cache: no token query per request, and revocation still wins at once.

Two apps on one database and one real redis-server stand for two processes (as in
tests/test_bus_redis.py); the close message a revocation publishes is what empties the other
process's cache, well before its TTL (raised here so only the message can do it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from notifier.extensions import db, state
from notifier.models import ApiToken, User
from notifier.service import accounts, tenant_admin, token_cache
from tests.conftest import make_app
from tests.factories import bearer, make_user
from tests.test_bus_contract import wait_until

ME = "/api/v1/me"


def statements_of(app: Flask, fn) -> list[str]:  # noqa: ANN001 - a callable
    """Return the SQL ``fn()`` ran on ``app``'s engine."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_repeated_bearer_request_does_not_query_the_token(app: Flask) -> None:
    user = make_user("alice@example.com")
    token = accounts.create_token(user)
    client = app.test_client()
    assert client.get(ME, headers=bearer(token)).status_code == 200
    again = statements_of(app, lambda: client.get(ME, headers=bearer(token)))
    assert not [s for s in again if "api_tokens" in s]


def test_a_token_revoked_here_is_refused_at_once(app: Flask) -> None:
    user = make_user("alice@example.com")
    token = accounts.create_token(user)
    other = accounts.create_token(user, "other")
    client = app.test_client()
    assert client.get(ME, headers=bearer(token)).status_code == 200
    ident = db.session.query(ApiToken.id).filter_by(name="default").scalar()
    assert client.delete(f"/api/v1/tokens/{ident}", headers=bearer(other)).status_code == 204
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert client.get(ME, headers=bearer(other)).status_code == 200


@pytest.fixture
def two_processes(tmp_path: Path, redis_url: str) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one SQLite file and one Redis, their bus listeners running."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    first = make_app(url, REDIS_URL=redis_url, NOTIFIER_INSTANCE="one")
    second = make_app(url, REDIS_URL=redis_url, NOTIFIER_INSTANCE="two")
    for a in (first, second):
        state(a).broker.start()
    yield first, second
    for a in (first, second):
        state(a).broker.stop()
        with a.app_context():
            db.engine.dispose()


@pytest.mark.redis
def test_a_revocation_in_one_process_empties_the_cache_of_the_other(
    two_processes: tuple[Flask, Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_cache, "TTL", 3600.0)  # only the close message may drop it
    first, second = two_processes
    with first.app_context():
        user = make_user("alice@example.com")
        token, other = accounts.create_token(user), accounts.create_token(user, "other")
        ident = db.session.query(ApiToken.id).filter_by(name="default").scalar()
        uid = user.id
    there = second.test_client()
    assert there.get(ME, headers=bearer(token)).status_code == 200  # now cached there
    cache = token_cache.for_hub(state(second).hub)
    assert cache.parent_live(ident, uid)
    here = first.test_client()
    assert here.delete(f"/api/v1/tokens/{ident}", headers=bearer(other)).status_code == 204
    assert wait_until(lambda: not cache.parent_live(ident, uid))
    assert there.get(ME, headers=bearer(token)).status_code == 401
    assert there.get(ME, headers=bearer(other)).status_code == 200


def test_a_repeated_bearer_request_does_not_query_the_user_either(app: Flask) -> None:
    user = make_user("alice@example.com")
    token = accounts.create_token(user)
    db.session.remove()  # as in a server: the request's session starts empty
    client = app.test_client()
    assert client.get(ME, headers=bearer(token)).status_code == 200
    assert client.get(ME, headers=bearer(token)).status_code == 200  # the snapshot is taken
    db.session.remove()
    seen: list[dict] = []
    again = statements_of(app, lambda: seen.append(client.get(ME, headers=bearer(token)).json))
    assert not [s for s in again if "FROM users" in s], again
    assert seen[0]["email"] == "alice@example.com"


def test_a_profile_change_shows_on_the_next_request_at_once(app: Flask) -> None:
    user = make_user("alice@example.com")
    token = accounts.create_token(user)
    db.session.remove()
    client = app.test_client()
    for _ in range(2):
        assert client.get(ME, headers=bearer(token)).json["timezone"] == "UTC"
    db.session.remove()
    patched = client.patch(ME, json={"timezone": "Europe/Berlin"}, headers=bearer(token))
    assert patched.status_code == 200
    db.session.remove()
    assert client.get(ME, headers=bearer(token)).json["timezone"] == "Europe/Berlin"


def test_a_deactivated_user_is_refused_at_once(app: Flask) -> None:
    admin = make_user("admin@example.com", role="admin")
    user = make_user("alice@example.com")
    token, uid = accounts.create_token(user), user.id
    admin_token, admin_id = accounts.create_token(admin), admin.id
    db.session.remove()
    client = app.test_client()
    for _ in range(2):
        assert client.get(ME, headers=bearer(token)).status_code == 200
    db.session.remove()
    actor = db.session.get(User, admin_id)
    tenant_admin.set_active(actor.tenant_id, uid, False, actor=actor)
    db.session.remove()
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert client.get(ME, headers=bearer(admin_token)).status_code == 200


@pytest.mark.redis
def test_a_deactivation_in_one_process_reaches_the_other_cache(
    two_processes: tuple[Flask, Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_cache, "TTL", 3600.0)  # only the close message may drop it
    first, second = two_processes
    with first.app_context():
        admin = make_user("admin@example.com", role="admin")
        user = make_user("alice@example.com")
        token, uid, admin_id = accounts.create_token(user), user.id, admin.id
    there = second.test_client()
    for _ in range(2):
        assert there.get(ME, headers=bearer(token)).status_code == 200  # user snapshot there
    cache = token_cache.for_hub(state(second).hub)
    with first.app_context():
        actor = db.session.get(User, admin_id)
        tenant_admin.set_active(actor.tenant_id, uid, False, actor=actor)
        ident = db.session.query(ApiToken.id).filter_by(user_id=uid).scalar()
    assert wait_until(lambda: not cache.parent_live(ident, uid))
    assert there.get(ME, headers=bearer(token)).status_code == 401
