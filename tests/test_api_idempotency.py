"""REST API: Idempotency-Key on POST /api/v1/notifications."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from notifier.extensions import db
from notifier.models import IdempotencyKey, Notification, utcnow
from notifier.service import events
from notifier.service import idempotency as store
from tests.factories import World, make_world

URL = "/api/v1/notifications"


@pytest.fixture
def world_any(any_app: Flask) -> World:
    """The test world on SQLite and on PostgreSQL."""
    return make_world()


def notifications() -> int:
    """Return how many notifications are stored."""
    return int(db.session.scalar(select(func.count()).select_from(Notification)) or 0)


def post(
    client: FlaskClient,
    world: World,
    key: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Any:
    """Publish ``body`` with an Idempotency-Key (as the acme admin unless told)."""
    return client.post(
        URL, json=body, headers={**(headers or world.admin_h), "Idempotency-Key": key}
    )


def body_for(world: World, title: str = "Deploy done") -> dict[str, Any]:
    """Return a publish body for alice."""
    return {"user_id": world.alice.id, "type": "deploy", "title": title, "channels": ["in_app"]}


def test_same_key_and_body_replays_the_first_answer(client: FlaskClient, world: World) -> None:
    first = post(client, world, "deploy-42", body_for(world))
    again = post(client, world, "deploy-42", body_for(world))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert notifications() == 1


def test_key_order_and_spacing_do_not_matter(client: FlaskClient, world: World) -> None:
    body = body_for(world)
    first = post(client, world, "k", body)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4)
    again = client.post(
        URL,
        data=reordered,
        content_type="application/json",
        headers={**world.admin_h, "Idempotency-Key": "k"},
    )
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert notifications() == 1


def test_same_key_with_another_body_is_409(client: FlaskClient, world: World) -> None:
    post(client, world, "k", body_for(world))
    resp = post(client, world, "k", body_for(world, title="Something else"))
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "idempotency_conflict"
    assert notifications() == 1


def test_keys_are_scoped_per_user(client: FlaskClient, world: World) -> None:
    post(client, world, "shared", body_for(world))
    carol_body = {"user_id": world.carol.id, "type": "deploy", "title": "x", "channels": ["in_app"]}
    resp = post(client, world, "shared", carol_body, headers=world.carol_h)
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers
    assert notifications() == 2


def test_fan_out_and_scheduled_answers_replay_too(client: FlaskClient, world: World) -> None:
    many = {"tenant": True, "type": "deploy", "title": "all", "channels": ["in_app"]}
    first = post(client, world, "fan", many)
    assert post(client, world, "fan", many).get_json() == first.get_json()
    later = {**body_for(world), "send_at": "2999-01-01T00:00:00Z"}
    scheduled = post(client, world, "later", later)
    again = post(client, world, "later", later)
    assert scheduled.status_code == again.status_code == 202
    assert again.get_json() == scheduled.get_json()
    assert notifications() == 3


def test_refused_requests_are_not_remembered(client: FlaskClient, world: World) -> None:
    bad = {**body_for(world), "priority": "extreme"}
    assert post(client, world, "retry-me", bad).status_code == 422
    resp = post(client, world, "retry-me", body_for(world))
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers


def test_key_length_is_checked(client: FlaskClient, world: World) -> None:
    resp = post(client, world, "k" * 256, body_for(world))
    assert resp.status_code == 422
    assert "Idempotency-Key" in resp.get_json()["error"]["fields"]
    assert notifications() == 0
    assert post(client, world, "k" * 255, body_for(world)).status_code == 201


def test_key_expires_after_a_day(client: FlaskClient, world: World) -> None:
    post(client, world, "daily", body_for(world))
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    resp = post(client, world, "daily", body_for(world, title="Next day"))
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers
    assert notifications() == 2


def test_a_request_still_running_gets_409_in_progress(client: FlaskClient, world: World) -> None:
    body = body_for(world)
    with client.application.test_request_context(URL, method="POST", json=body):
        from notifier.api.idempotency import request_hash

        digest = request_hash(body)
    db.session.add(
        IdempotencyKey(
            user_id=world.admin.id,
            key="busy",
            request_hash=digest,
            status=store.PENDING,
            response={},
        )
    )
    db.session.commit()
    resp = post(client, world, "busy", body)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "idempotency_in_progress"
    assert resp.headers["Retry-After"] == "1"
    assert notifications() == 0


def test_claim_loses_the_race_to_a_committed_key(world: World) -> None:
    assert store.claim(world.admin.id, "race", "h1") is None
    store.complete(world.admin.id, "race", 201, {"ok": True})
    # A second request that looked before the first committed now hits the unique constraint.
    winner = store.claim(world.admin.id, "race", "h1")
    assert winner == store.Stored(request_hash="h1", status=201, response={"ok": True})


def test_prune_removes_only_expired_keys(world: World) -> None:
    for key, age in (("old", 30), ("fresh", 1)):
        db.session.add(
            IdempotencyKey(
                user_id=world.admin.id,
                key=key,
                request_hash="h",
                status=201,
                response={},
                created_at=utcnow() - timedelta(hours=age),
            )
        )
    db.session.commit()
    assert store.prune(force=True) == 1
    assert list(db.session.scalars(select(IdempotencyKey.key))) == ["fresh"]


def test_a_failure_after_the_commit_leaves_a_replayable_answer(
    any_app: Flask, world_any: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = any_app.test_client()
    any_app.config["PROPAGATE_EXCEPTIONS"] = False  # the client sees the 500, as in production
    fired: list[int] = []

    def crash(messages: Any) -> None:
        # Runs right after the notification's commit: stands in for a lost connection, a
        # killed worker or any error before the answer reaches the client.
        fired.append(len(messages))
        raise RuntimeError("injected failure after the commit")

    with monkeypatch.context() as patch:
        patch.setattr(events, "publish", crash)
        lost = post(client, world_any, "crash-window", body_for(world_any))
    assert fired == [1] and lost.status_code == 500
    assert notifications() == 1  # stored although the client saw a 500
    retry = post(client, world_any, "crash-window", body_for(world_any))
    assert retry.status_code == 201, retry.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    stored = db.session.scalar(select(Notification))
    assert retry.get_json()["notification"]["id"] == stored.id
    assert post(client, world_any, "crash-window", body_for(world_any)).status_code == 201
    assert notifications() == 1


def test_a_failed_commit_stores_neither_key_nor_notification(
    client: FlaskClient, world: World
) -> None:
    client.application.config["PROPAGATE_EXCEPTIONS"] = False

    def refuse(session: Any) -> None:
        raise RuntimeError("injected commit failure")

    event.listen(Session, "before_commit", refuse)
    try:
        assert post(client, world, "no-commit", body_for(world)).status_code == 500
    finally:
        event.remove(Session, "before_commit", refuse)
    db.session.rollback()
    assert notifications() == 0
    retry = post(client, world, "no-commit", body_for(world))
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert notifications() == 1


def test_an_abandoned_pending_key_is_retryable_within_seconds(
    client: FlaskClient, world: World
) -> None:
    body = body_for(world)
    with client.application.test_request_context(URL, method="POST", json=body):
        from notifier.api.idempotency import request_hash

        digest = request_hash(body)
    # What a writer that died between its commit and its answer leaves, without a notification.
    db.session.add(
        IdempotencyKey(
            user_id=world.admin.id,
            key="orphan",
            request_hash=digest,
            status=store.PENDING,
            response={},
            created_at=utcnow() - store.PENDING_TTL - timedelta(seconds=1),
        )
    )
    db.session.commit()
    assert timedelta(seconds=30) >= store.PENDING_TTL
    resp = post(client, world, "orphan", body)
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers
    assert notifications() == 1
    assert post(client, world, "orphan", body).headers["Idempotent-Replayed"] == "true"
    assert notifications() == 1
