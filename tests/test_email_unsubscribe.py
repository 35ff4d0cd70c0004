"""Email that respects people (CONTRACT §9): layout, plain text, RFC 8058 one-click unsubscribe.

Mail goes through the real delivery worker to the aiosmtpd test server; the link is taken
from the received message and used without signing in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from notifier.delivery import tick
from notifier.models import User
from notifier.service import notify as notify_svc
from notifier.service import preferences as prefs_svc
from notifier.service.content import validate_content
from tests.factories import make_user
from tests.fixtures_receivers import SmtpServer
from tests.test_delivery import sqlite_app

BASE = "https://notify.example.com"


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    yield from sqlite_app(tmp_path, NOTIFIER_BASE_URL=BASE, **smtp_server.config())


@pytest.fixture
def alice(mail_app: Flask) -> User:
    return make_user("alice@example.com", tenant="Acme Corp")


def email(
    user: User, ntype: str = "billing", title: str = "Invoice ready"
) -> notify_svc.NotifyResult:
    content = validate_content(
        {"type": ntype, "title": title, "body": "Invoice 42 is due.", "channels": ["email"]}
    )
    return notify_svc.notify(user.tenant_id, content, [user.id], sender_id=None)


def unsubscribe_path(header: str) -> str:
    match = re.fullmatch(r"<(https://[^>]+)>", header)
    assert match, header
    url = urlsplit(match.group(1))
    assert f"{url.scheme}://{url.netloc}" == BASE
    return url.path


def test_email_has_the_layout_and_the_one_click_headers(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    email(alice)
    assert tick(mail_app) == 1
    [mail] = smtp_server.messages
    msg = mail.message
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe_path(msg["List-Unsubscribe"])
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Invoice 42 is due." in text and "Acme Corp" in text
    assert f"Manage notifications: {BASE}/preferences" in text
    assert f"{BASE}{path}" in text
    assert "Acme Corp" in html and f'<a href="{BASE}/preferences">Manage notifications</a>' in html
    assert f'<a href="{BASE}{path}">' in html


def test_one_click_post_turns_that_email_off_without_signing_in(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    email(alice, "billing")
    tick(mail_app)
    path = unsubscribe_path(smtp_server.messages[0].message["List-Unsubscribe"])
    client = mail_app.test_client()  # no session: the signed link is the credential

    resp = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert resp.status_code == 200 and "You are unsubscribed" in resp.text
    prefs = prefs_svc.get_preferences(alice.id)
    assert prefs["types"]["billing"]["email"] is False
    assert prefs["channels"]["email"] is True  # only that type
    assert email(alice, "billing").errors["email"] == "disabled by preferences"
    assert email(alice, "deploy").channels["email"] is True


def test_get_confirms_and_changes_nothing_and_forged_links_are_404(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    email(alice, "billing")
    tick(mail_app)
    path = unsubscribe_path(smtp_server.messages[0].message["List-Unsubscribe"])
    client = mail_app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    assert "Unsubscribe from these emails?" in page.text and "billing" in page.text
    assert re.search(rf'<form method="post" action="{re.escape(path)}">', page.text)
    assert prefs_svc.channel_allowed(prefs_svc.get_preferences(alice.id), "billing", "email")
    forged = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    assert client.get(forged).status_code == 404
    assert client.post(forged).status_code == 404
    assert prefs_svc.channel_allowed(prefs_svc.get_preferences(alice.id), "billing", "email")
