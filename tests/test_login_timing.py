"""Login answers cost the same for a wrong password and an unknown email (CONTRACT §8).

Timing itself is measured by ``bench/login_timing.py`` (figures in docs/benchmarks.md); timed
assertions have no place in unit tests, so these pin the mechanism: every failed login verifies
one password hash made with the same algorithm and parameters as the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug import security

from notifier.extensions import db
from notifier.service import accounts
from tests.conftest import make_app
from tests.factories import PASSWORD, make_user


def method_of(pwhash: str) -> str:
    """Return the method and parameters part of a werkzeug hash (``scrypt:32768:8:1``)."""
    return pwhash.split("$", 1)[0]


@pytest.fixture(params=["real-hash", "fast-hash"])
def hash_app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Flask]:
    """An app hashing as production does (scrypt), and one in the suite's fast-hash mode."""
    app = make_app(
        f"sqlite:///{tmp_path / 'hash.sqlite'}",
        NOTIFIER_TESTING_FAST_HASH=request.param == "fast-hash",
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the method of every hash check_login verifies (the real check still runs)."""
    seen: list[str] = []
    real = security.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        seen.append(method_of(pwhash))
        return real(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", spy)
    return seen


def test_every_failed_login_verifies_one_hash_of_the_real_kind(
    hash_app: Flask, verified: list[str]
) -> None:
    user = make_user("alice@example.com")
    gone = make_user("gone@example.com")
    gone.active = False
    db.session.commit()
    real = method_of(user.password_hash)
    expected = "pbkdf2:sha256:1000" if hash_app.config["NOTIFIER_TESTING_FAST_HASH"] else "scrypt"
    assert real.startswith(expected)

    assert accounts.check_login("alice@example.com", "wrong-password") is None
    assert accounts.check_login("nobody@example.com", "wrong-password") is None
    assert accounts.check_login("gone@example.com", PASSWORD) is None
    assert accounts.check_login("", "") is None

    # One verification each, all with the algorithm and cost parameters of a real account.
    assert verified == [real, real, real, real]


def test_the_login_form_takes_the_same_path_for_unknown_emails(
    hash_app: Flask, verified: list[str]
) -> None:
    user = make_user("alice@example.com")
    client = hash_app.test_client()
    for email in ("alice@example.com", "nobody@example.com"):
        resp = client.post("/login", data={"email": email, "password": "wrong-password"})
        assert resp.status_code == 401 and b"Wrong email or password." in resp.data
    assert verified == [method_of(user.password_hash)] * 2


def test_the_dummy_hash_is_made_once_per_method(hash_app: Flask) -> None:
    first = accounts.dummy_hash()
    assert accounts.dummy_hash() is first
    assert method_of(first) == method_of(accounts.hash_password("x" * 12))
