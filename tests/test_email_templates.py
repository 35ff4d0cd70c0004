"""A templated email through the real SMTP server: the tenant's branded layout and a text part
derived from the template's HTML (CONTRACT §10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from notifier.delivery import tick
from notifier.models import User
from notifier.service import branding, templates
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from tests.factories import make_user
from tests.fixtures_receivers import SmtpServer
from tests.test_delivery import sqlite_app

HTML = (
    "<h1>Order {{ data.order }} shipped</h1>\n"
    "<p>Hello {{ user.email }}, your parcel is on its way.</p>\n"
    '<p><a href="https://shop.example/orders/{{ data.order }}">Track it</a></p>\n'
    "<p>Note: {{ data.note }}</p>"
)


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    yield from sqlite_app(tmp_path, **smtp_server.config())


@pytest.fixture
def alice(mail_app: Flask) -> User:
    return make_user("alice@example.com", tenant="Acme Corp")


def publish(user: User, data: dict[str, Any]) -> notify_svc.NotifyResult:
    content = validate_content(
        {"type": "shipping", "title": "Plain title", "channels": ["email"], "data": data}
    )
    return notify_svc.notify(user.tenant_id, content, [user.id], sender_id=None)


def test_templated_email_has_the_branded_layout_and_a_derived_text_part(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    branding.set_branding(alice.tenant_id, "#FF6600", "https://cdn.example/acme.png")
    templates.save(
        alice.tenant_id,
        {
            "type": "shipping",
            "channel": "email",
            "subject": "Order {{ data.order }} shipped",
            "html": HTML,
        },
    )
    assert publish(alice, {"order": 42, "note": "<script>x</script> & co"}).channels["email"]
    assert tick(mail_app) == 1
    [mail] = smtp_server.messages
    msg = mail.message
    assert msg["Subject"] == "Order 42 shipped"
    html = msg.get_body(("html",)).get_content()
    assert "border-top: 4px solid #ff6600" in html
    assert '<img src="https://cdn.example/acme.png" alt="Acme Corp"' in html
    assert "<strong>Acme Corp</strong>" in html
    assert '<a href="https://shop.example/orders/42">Track it</a>' in html
    assert "Note: &lt;script&gt;x&lt;/script&gt; &amp; co" in html  # variables are escaped
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("Order 42 shipped\n\nHello alice@example.com, your parcel")
    assert "Track it (https://shop.example/orders/42)" in text
    assert "Note: <script>x</script> & co" in text and "<h1>" not in text
    assert "You get this email from Acme Corp through Notifier." in text


def test_branding_is_validated(mail_app: Flask, alice: User) -> None:
    with pytest.raises(branding.ValidationError) as bad:
        branding.set_branding(alice.tenant_id, "orange", "http://cdn.example/x.png")
    assert bad.value.fields == {
        "brand_color": 'a colour as "#rrggbb"',
        "logo_url": "must be an https:// URL",
    }
    tenant = branding.set_branding(alice.tenant_id, "", "")
    assert tenant.brand_color is None and tenant.logo_url is None
