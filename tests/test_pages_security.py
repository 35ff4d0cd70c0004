"""Page security: CSRF on forms and htmx requests, CSP without inline code, cookies, caching."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import db
from notifier.service import inbox
from tests.conftest import make_app
from tests.factories import PASSWORD, World, make_world, send


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    """An app with CSRF protection on, as in production."""
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def token_from(html: str) -> str:
    """Return the CSRF token the page hands to htmx in <meta name="csrf-token">."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match
    return match.group(1)


def signed_in(app: Flask, email: str) -> tuple[FlaskClient, str]:
    """Log in through the real form (token included); return the client and a page token."""
    client = app.test_client()
    login = client.get("/login").text
    field = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)
    assert field
    resp = client.post(
        "/login", data={"csrf_token": field.group(1), "email": email, "password": PASSWORD}
    )
    assert resp.status_code == 302
    return client, token_from(client.get("/").text)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/notifications/{nid}/read", {}),
        ("/notifications/{nid}/delete", {}),
        ("/notifications/read-all", {}),
        ("/notifications/bulk", {"action": "delete", "ids": "{nid}"}),
        ("/preferences", {"ch_in_app": "y"}),
    ],
)
def test_posts_without_a_token_are_refused(csrf_app: Flask, path: str, data: dict) -> None:
    world = make_world()
    nid = send(world.alice, "Keep me")
    client, _ = signed_in(csrf_app, "alice@example.com")
    filled = {k: v.format(nid=nid) for k, v in data.items()}
    for headers in ({}, {"HX-Request": "true"}):
        resp = client.post(path.format(nid=nid), data=filled, headers=headers)
        assert resp.status_code == 400
    assert inbox.stats(world.alice.id) == {
        "total": 1,
        "unread": 1,
        "read": 0,
        "unseen": 1,
        "archived": 0,
    }


def test_htmx_requests_pass_with_the_header_token(csrf_app: Flask) -> None:
    world = make_world()
    nid = send(world.alice, "Read me")
    client, token = signed_in(csrf_app, "alice@example.com")
    resp = client.post(
        f"/notifications/{nid}/read", headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert resp.status_code == 200
    assert inbox.stats(world.alice.id)["unread"] == 0
    bad = client.post(
        f"/notifications/{nid}/unread", headers={"HX-Request": "true", "X-CSRFToken": token + "x"}
    )
    assert bad.status_code == 400


def test_admin_forms_need_the_token(csrf_app: Flask) -> None:
    make_world()
    client, token = signed_in(csrf_app, "admin@example.com")
    form = {"audience": "tenant", "type": "system", "title": "T", "priority": "normal"}
    assert client.post("/admin/send", data=form).status_code == 400
    assert client.post("/admin/preview", data=form).status_code == 400
    ok = client.post("/admin/send", data=form, headers={"X-CSRFToken": token})
    assert ok.status_code == 302


def test_session_cookie_is_httponly_and_samesite_lax(csrf_app: Flask) -> None:
    make_world()
    client = csrf_app.test_client()
    field = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)
    resp = client.post(
        "/login",
        data={
            "csrf_token": field.group(1),
            "email": "alice@example.com",
            "password": PASSWORD,
            "remember": "y",
        },
    )
    cookies = resp.headers.getlist("Set-Cookie")
    assert {c.split("=", 1)[0] for c in cookies} >= {"session", "remember_token"}
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("path", ["/", "/preferences", "/admin", "/login"])
def test_pages_have_a_csp_and_no_inline_code(world: World, client: FlaskClient, path: str) -> None:
    if path != "/login":
        client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    resp = client.get(path)
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    html = resp.text
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # every script is a file
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_static_files_have_versioned_urls_and_long_cache(world: World, client: FlaskClient) -> None:
    html = client.get("/login").text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+\?v=[0-9a-f]{12})"', html)
    assert {u.split("?")[0] for u in urls} >= {
        "/static/css/app.css",
        "/static/js/live.js",
        "/static/js/ui.js",
    }
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200
        assert resp.cache_control.max_age == 31536000
        resp.close()
