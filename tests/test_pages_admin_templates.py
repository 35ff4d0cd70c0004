"""Admin templates screen: list, edit with errors by the fields, live preview, branding, CSRF."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import Tenant
from notifier.models_flows import Template
from notifier.service import templates
from tests.conftest import AuthActions, make_app
from tests.factories import World, make_world

HX = {"HX-Request": "true"}
FORM = {
    "type": "order",
    "channel": "in_app",
    "locale": "en",
    "title": "Order {{ data.order.id }} shipped",
    "body": "Hi {{ user.email }}",
    "subject": "",
    "html": "",
    "variants": "",
    "sample": '{"order": {"id": 42}}',
}


def error_of(html: str, field: str) -> str:
    """Return the text of a field's error slot."""
    match = re.search(rf'<div id="{field}-error"[^>]*>(.*?)</div>', html, re.S)
    assert match, f"no error slot for {field}"
    return html_lib.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


@pytest.mark.parametrize("path", ["/admin/templates", "/admin/templates/new", "/admin/templates/1"])
def test_members_get_404(world: World, client: FlaskClient, auth: AuthActions, path: str) -> None:
    auth.login("bob@example.com")
    assert client.get(path).status_code == 404
    assert client.post("/admin/templates/preview", data=FORM).status_code == 404


def test_list_links_from_the_section_nav(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    templates.save(world.acme.id, {"type": "order", "channel": "email", "subject": "x"})
    auth.login("admin@example.com")
    page = client.get("/admin/templates")
    assert page.status_code == 200
    assert '<a href="/admin/templates" aria-current="page">Templates</a>' in page.text
    assert ">order</a>" in page.text and "email" in page.text


def test_saving_a_template_from_the_form(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    assert client.get("/admin/templates/new").status_code == 200
    resp = client.post("/admin/templates/new", data=FORM)
    assert resp.status_code == 302
    row = db.session.scalars(select(Template)).one()
    assert row.title == FORM["title"] and row.tenant_id == world.acme.id
    edit = client.get(f"/admin/templates/{row.id}")
    assert "Order 42 shipped" in edit.text  # the page opens with its preview
    changed = client.post(f"/admin/templates/{row.id}", data={**FORM, "title": "New {{ data.x }}"})
    assert changed.status_code == 302
    db.session.refresh(row)
    assert row.title == "New {{ data.x }}"


def test_syntax_errors_are_shown_next_to_the_field(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    bad = {**FORM, "body": "ok\n{% if %}", "variants": '[{"name": "a"'}
    resp = client.post("/admin/templates/new", data=bad)
    assert resp.status_code == 422
    assert error_of(resp.text, "variants").startswith("line 1:")
    assert 'aria-invalid="true"' in resp.text
    assert db.session.scalars(select(Template)).all() == []
    resp = client.post("/admin/templates/new", data={**FORM, "body": "ok\n{% if %}"})
    assert resp.status_code == 422
    assert (
        error_of(resp.text, "body")
        == "line 2: Expected an expression, got 'end of statement block'"
    )
    assert error_of(resp.text, "title") == ""


def test_preview_renders_the_channel_and_errors_out_of_band(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    ok = client.post("/admin/templates/preview", data=FORM, headers=HX)
    assert ok.status_code == 200
    assert "Order 42 shipped" in ok.text and "Hi admin@example.com" in ok.text
    assert 'id="title-error" hx-swap-oob="true"' in ok.text  # clears earlier errors
    missing = client.post(
        "/admin/templates/preview", data={**FORM, "sample": '{"order": {}}'}, headers=HX
    )
    assert "data.order.id is missing from data" in error_of(missing.text, "sample")
    broken = client.post(
        "/admin/templates/preview", data={**FORM, "title": "{{ data.order.id }"}, headers=HX
    )
    assert error_of(broken.text, "title") == "line 1: unexpected '}'"
    not_json = client.post("/admin/templates/preview", data={**FORM, "sample": "{"}, headers=HX)
    assert error_of(not_json.text, "sample").startswith("line 1:")


def test_preview_shows_every_variant(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin@example.com")
    data = {
        **FORM,
        "channel": "push",
        "variants": '[{"name": "short", "weight": 1, "title": "#{{ data.order.id }}"}]',
    }
    resp = client.post("/admin/templates/preview", data=data, headers=HX)
    assert "Variant short (weight 1)" in resp.text and "#42" in resp.text


def test_email_preview_is_the_branded_mail_in_a_locked_frame(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    saved = client.post(
        "/admin/templates/branding",
        data={"brand-brand_color": "#112233", "brand-logo_url": "https://cdn.example/l.png"},
    )
    assert saved.status_code == 302
    data = {
        **FORM,
        "channel": "email",
        "subject": "Order {{ data.order.id }}",
        "html": '<p>See <a href="https://shop.example/{{ data.order.id }}">it</a></p>',
    }
    frame = client.post("/admin/templates/preview/email", data=data)
    assert frame.status_code == 200
    assert frame.headers["Content-Security-Policy"].startswith("sandbox;")
    assert "script-src" not in frame.headers["Content-Security-Policy"]
    assert "#112233" in frame.text and 'src="https://cdn.example/l.png"' in frame.text
    assert '<a href="https://shop.example/42">it</a>' in frame.text
    panel = client.post("/admin/templates/preview", data=data, headers=HX)
    assert "Order 42" in panel.text and "See it (https://shop.example/42)" in panel.text


def test_branding_errors_are_shown_by_the_fields(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("admin@example.com")
    resp = client.post(
        "/admin/templates/branding",
        data={"brand-brand_color": "red", "brand-logo_url": "javascript:alert(1)"},
    )
    assert resp.status_code == 422
    assert "a colour as &#34;#rrggbb&#34;" in resp.text
    assert "must be an https:// URL" in resp.text
    tenant = db.session.get(Tenant, world.acme.id)
    assert tenant is not None and tenant.brand_color is None


def test_another_tenants_template_is_404(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    row = templates.save(world.globex.id, {"type": "order", "channel": "in_app", "title": "x"})
    auth.login("admin@example.com")
    assert client.get(f"/admin/templates/{row.id}").status_code == 404
    assert client.post(f"/admin/templates/{row.id}", data=FORM).status_code == 404
    assert client.post(f"/admin/templates/{row.id}/delete").status_code == 404


@pytest.fixture
def csrf_app(tmp_path: Any) -> Iterator[Flask]:
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_every_form_needs_its_csrf_token(csrf_app: Flask) -> None:
    make_world()
    client = csrf_app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)
    assert token
    login = {"csrf_token": token.group(1), "email": "admin@example.com", "password": "password123"}
    assert client.post("/login", data=login).status_code == 302
    for path in ("/admin/templates/new", "/admin/templates/preview", "/admin/templates/branding"):
        assert client.post(path, data=FORM).status_code == 400, path
    page = client.get("/admin/templates/new").text
    form_token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert form_token
    resp = client.post("/admin/templates/new", data={**FORM, "csrf_token": form_token.group(1)})
    assert resp.status_code == 302


def test_send_form_names_what_the_types_template_needs(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    templates.save(world.acme.id, {"type": "order", "channel": "in_app", "title": "{{ data.n }}"})
    auth.login("admin@example.com")
    resp = client.post(
        "/admin/send",
        data={"audience": "user", "emails": "alice@example.com", "type": "order", "title": "Hi"},
        headers=HX,
    )
    assert resp.status_code == 422
    assert "data.n is missing from data" in resp.text
