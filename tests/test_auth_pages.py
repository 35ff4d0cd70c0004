"""Login and logout through the real form, CSRF and cookie flags."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AuthActions, make_app
from tests.factories import PASSWORD, make_user


def test_login_page_renders_with_csrf_field(client: FlaskClient) -> None:
    resp = client.get("/login")
    assert resp.status_code == 200
    assert b'name="csrf_token"' in resp.data or b"Sign in" in resp.data
    assert "Content-Security-Policy" in resp.headers
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_anonymous_visitor_is_sent_to_login(client: FlaskClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_login_and_logout(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    make_user("alice@example.com")
    resp = auth.login()
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("email", "password", "status"),
    [
        ("alice@example.com", "wrong-password", 401),
        ("nobody@example.com", PASSWORD, 401),
        ("", "", 400),
        ("not-an-email", PASSWORD, 400),
    ],
)
def test_bad_logins_are_refused(
    app: Flask, auth: AuthActions, email: str, password: str, status: int
) -> None:
    make_user("alice@example.com")
    resp = auth.login(email, password)
    assert resp.status_code == status
    assert b"Sign in" in resp.data


def test_login_refuses_offsite_next(app: Flask, auth: AuthActions, client: FlaskClient) -> None:
    make_user("alice@example.com")
    resp = client.post(
        "/login?next=//evil.example/x", data={"email": "alice@example.com", "password": PASSWORD}
    )
    assert resp.headers["Location"] == "/"


def test_login_form_requires_csrf_token(tmp_path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        make_user("alice@example.com")
        resp = app.test_client().post(
            "/login", data={"email": "alice@example.com", "password": PASSWORD}
        )
        assert resp.status_code == 400
