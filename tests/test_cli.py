"""The CLI of CONTRACT §3 through Flask's CLI runner."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import Notification, User
from notifier.service import accounts


def test_create_user_prints_id_and_generated_password(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "Dana@Example.com", "--admin", "--tenant", "ops"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "dana@example.com"))
    assert f"created user {user.id} dana@example.com" in result.output
    password = re.search(r"password: (\S+)", result.output).group(1)
    assert accounts.check_login("dana@example.com", password) is not None
    assert (user.role, user.tenant.name) == ("admin", "ops")


def test_create_user_defaults_to_default_tenant_and_rejects_duplicates(app: Flask) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["create-user", "eve@example.com", "--password", "longenough"])
    assert ok.exit_code == 0 and "password:" not in ok.output
    dup = runner.invoke(args=["create-user", "eve@example.com", "--password", "longenough"])
    assert dup.exit_code == 1
    assert "already registered" in dup.output
    user = db.session.scalar(select(User).where(User.email == "eve@example.com"))
    assert user.tenant.name == "default" and user.role == "member"


def test_create_token_prints_only_a_working_token(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "fay@example.com", "--password", "longenough"])
    result = runner.invoke(args=["create-token", "fay@example.com", "--name", "ci"])
    token = result.output.strip()
    assert result.exit_code == 0 and "\n" not in token
    assert accounts.user_for_token(token).email == "fay@example.com"
    assert runner.invoke(args=["create-token", "nobody@example.com"]).exit_code == 1


def test_send_stores_a_notification(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "gus@example.com", "--password", "longenough"])
    result = runner.invoke(
        args=[
            "send",
            "--to",
            "gus@example.com",
            "--type",
            "deploy",
            "--title",
            "Shipped",
            "--body",
            "v1.2",
        ]
    )
    assert result.exit_code == 0, result.output
    n = db.session.scalar(select(Notification))
    assert (n.type, n.title, n.body) == ("deploy", "Shipped", "v1.2")
    bad = runner.invoke(
        args=[
            "send",
            "--to",
            "gus@example.com",
            "--type",
            "x",
            "--title",
            "t",
            "--priority",
            "loud",
        ]
    )
    assert bad.exit_code == 1 and "priority" in bad.output


def test_seed_demo_is_idempotent_and_prints_logins(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == second.exit_code == 0
    for out in (first.output, second.output):
        assert "admin@example.com" in out and "admin-demo-pass" in out
    assert db.session.query(User).count() == 3
    types = set(db.session.scalars(select(Notification.type)))
    assert len(types) >= 4
    assert accounts.check_login("alice@example.com", "alice-demo-pass") is not None


def test_vapid_keys_prints_a_key_pair(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["vapid-keys"])
    assert result.exit_code == 0
    assert re.search(r"NOTIFIER_VAPID_PUBLIC_KEY=[A-Za-z0-9_-]{80,}", result.output)
    assert re.search(r"NOTIFIER_VAPID_PRIVATE_KEY=\S{40,}", result.output)
