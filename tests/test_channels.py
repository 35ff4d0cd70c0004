"""Test the external channels against real SMTP and HTTP receivers on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from email.utils import formatdate
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid, Vapid02

from notifier.channels import CHANNEL_NAMES, build_channels
from notifier.channels.base import DeliveryJob, PermanentError, TransientError
from notifier.channels.email import EmailChannel
from notifier.channels.push import PushChannel, PushGone, generate_vapid_keys, is_gone
from notifier.channels.sms import MAX_LENGTH, SmsChannel, truncate
from notifier.channels.webhook import (
    WebhookChannel,
    parse_retry_after,
    sign,
    validate_webhook_url,
)
from tests.fixtures_receivers import HttpReceiver, Reply, SmtpServer, free_port

XSS = "<img src=x onerror=alert(1)>"
ITEM: dict[str, Any] = {
    "id": 7,
    "type": "comment",
    "title": "New comment on Q3 report",
    "body": "Looks good.\nShip it.",
    "priority": "high",
    "url": "https://notifier.example/n/7",
    "created_at": "2026-01-01T00:00:00Z",
}
ALLOW = {"NOTIFIER_WEBHOOK_ALLOW_PRIVATE": True}


def make_job(channel: str, target: Any, *items: dict[str, Any], **kw: Any) -> DeliveryJob:
    """Return a delivery job for one item (ITEM by default) or a digest of several."""
    return DeliveryJob(41, channel, 3, 2, target, list(items) or [dict(ITEM)], **kw)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- email -----------------------------------------------------------------------------------


def test_email_arrives_with_text_and_escaped_html(smtp_server: SmtpServer) -> None:
    item = {**ITEM, "title": f"Hi {XSS}", "body": f"line one\n{XSS}"}
    extra = {"unsubscribe_url": "https://notifier.example/preferences"}
    EmailChannel(smtp_server.config()).send(
        make_job("email", "ann@example.test", item, extra=extra)
    )

    [mail] = smtp_server.messages
    msg = mail.message
    assert (mail.mail_from, mail.rcpt_tos) == ("notifier@example.test", ["ann@example.test"])
    assert msg["Subject"] == f"Hi {XSS}"
    assert msg["To"] == "ann@example.test"
    assert msg["Message-ID"] and msg["Date"]
    assert msg["List-Unsubscribe"] == "<https://notifier.example/preferences>"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert f"line one\n{XSS}" in text and "https://notifier.example/n/7" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    assert '<a href="https://notifier.example/n/7">' in html


def test_email_digest_lists_every_item(smtp_server: SmtpServer) -> None:
    items = [
        {**ITEM, "id": i, "title": f"Item {i}", "url": f"https://n.example/{i}"} for i in (1, 2, 3)
    ]
    EmailChannel(smtp_server.config()).send(make_job("email", "ann@example.test", *items))

    msg = smtp_server.messages[0].message
    assert msg["Subject"] == "3 new notifications"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for i in (1, 2, 3):
        assert f"- Item {i} <https://n.example/{i}>" in text.splitlines()
        assert f'<li><a href="https://n.example/{i}">Item {i}</a></li>' in html


def test_email_links_only_absolute_http_urls(smtp_server: SmtpServer) -> None:
    item = {**ITEM, "url": "javascript:alert(1)"}
    EmailChannel(smtp_server.config()).send(make_job("email", "ann@example.test", item))

    html = smtp_server.messages[0].message.get_body(("html",)).get_content()
    assert "javascript:" not in html and "<a " not in html


def test_email_logs_in_with_the_configured_credentials(smtp_server: SmtpServer) -> None:
    smtp_server.require_login("mailer", "s3cret")
    cfg = smtp_server.config(NOTIFIER_SMTP_USER="mailer", NOTIFIER_SMTP_PASSWORD="s3cret")
    EmailChannel(cfg).send(make_job("email", "ann@example.test"))

    assert smtp_server.logins == [("mailer", "s3cret")]
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("reply", "stage", "error"),
    [
        ("451 4.3.0 Try again later", "rcpt", TransientError),
        ("451 4.3.0 Try again later", "data", TransientError),
        ("550 5.1.1 No such user", "rcpt", PermanentError),
        ("554 5.6.0 Message rejected", "data", PermanentError),
    ],
)
def test_email_smtp_refusals_map_to_retry_or_dead(
    smtp_server: SmtpServer, reply: str, stage: Any, error: type[Exception]
) -> None:
    smtp_server.fail(reply, at=stage)
    with pytest.raises(error, match=reply.split()[0]):
        EmailChannel(smtp_server.config()).send(make_job("email", "ann@example.test"))
    assert smtp_server.messages == []


def test_email_deferred_once_goes_through_on_the_next_attempt(smtp_server: SmtpServer) -> None:
    smtp_server.fail("451 4.7.1 Greylisted, come back later", at="rcpt", times=1)
    channel, job = EmailChannel(smtp_server.config()), make_job("email", "ann@example.test")
    with pytest.raises(TransientError, match="Greylisted"):
        channel.send(job)
    channel.send(job)
    assert [mail.rcpt_tos for mail in smtp_server.wait_for(1)] == [["ann@example.test"]]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"NOTIFIER_SMTP_PASSWORD": "wrong"}, id="bad-password"),
        pytest.param({"NOTIFIER_SMTP_TLS": "starttls"}, id="starttls-not-offered"),
    ],
)
def test_email_server_wide_problems_are_transient(
    smtp_server: SmtpServer, overrides: dict[str, str]
) -> None:
    smtp_server.require_login("mailer", "s3cret")
    cfg = smtp_server.config(NOTIFIER_SMTP_USER="mailer", NOTIFIER_SMTP_PASSWORD="s3cret")
    with pytest.raises(TransientError):
        EmailChannel({**cfg, **overrides}).send(make_job("email", "ann@example.test"))
    assert smtp_server.messages == []


def test_email_nothing_listening_is_transient() -> None:
    cfg = {"NOTIFIER_SMTP_HOST": "127.0.0.1", "NOTIFIER_SMTP_PORT": free_port()}
    with pytest.raises(TransientError, match="SMTP unavailable"):
        EmailChannel({**cfg, "NOTIFIER_SMTP_TLS": "none"}).send(make_job("email", "a@b.test"))


# --- SMS -------------------------------------------------------------------------------------


def sms_config(receiver: HttpReceiver) -> dict[str, Any]:
    return {
        "NOTIFIER_SMS_URL": receiver.url("/sms/send"),
        "NOTIFIER_SMS_USER": "acct",
        "NOTIFIER_SMS_PASSWORD": "tok",
        "NOTIFIER_SMS_FROM": "+15550001111",
    }


def test_sms_posts_form_fields_with_basic_auth(http_receiver: HttpReceiver) -> None:
    SmsChannel(sms_config(http_receiver)).send(make_job("sms", "+491701234567"))

    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/sms/send")
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"acct:tok").decode()
    assert req.form() == {
        "to": "+491701234567",
        "from": "+15550001111",
        "body": "New comment on Q3 report\nLooks good.\nShip it.",
    }


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [(503, TransientError, 7.0), (429, TransientError, 7.0), (400, PermanentError, None)],
)
def test_sms_gateway_answers_map_to_retry_or_dead(
    http_receiver: HttpReceiver, status: int, error: type[Exception], retry_after: float | None
) -> None:
    http_receiver.script(status, retry_after=7)
    with pytest.raises(error) as info:
        SmsChannel(sms_config(http_receiver)).send(make_job("sms", "+491701234567"))
    assert getattr(info.value, "retry_after", None) == retry_after


def test_sms_refuses_a_number_that_is_not_e164(http_receiver: HttpReceiver) -> None:
    with pytest.raises(PermanentError, match="E.164"):
        SmsChannel(sms_config(http_receiver)).send(make_job("sms", "0170 1234567"))
    assert http_receiver.requests == []


def test_sms_gateway_unreachable_is_transient() -> None:
    cfg = {"NOTIFIER_SMS_URL": f"http://127.0.0.1:{free_port()}/send"}
    with pytest.raises(TransientError):
        SmsChannel(cfg).send(make_job("sms", "+491701234567"))


def test_sms_text_is_cut_at_a_word_boundary() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    short = truncate(text)
    assert len(short) <= MAX_LENGTH and short.endswith("...")
    assert text.startswith(short[:-3]) and text[len(short) - 3] == " "
    assert truncate("short message") == "short message"


# --- webhook ---------------------------------------------------------------------------------


def test_webhook_body_and_signature_verify_with_the_secret(http_receiver: HttpReceiver) -> None:
    target = {"url": http_receiver.url("/hooks/in?src=notifier"), "secret": "whsec_test"}
    WebhookChannel(ALLOW).send(make_job("webhook", target))

    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/hooks/in?src=notifier")
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"] == "Notifier-Webhook/1"
    assert req.headers["X-Notifier-Delivery"] == "41"
    timestamp = req.headers["X-Notifier-Timestamp"]
    assert timestamp.isdigit()
    mac = hmac.new(b"whsec_test", f"{timestamp}.".encode() + req.body, hashlib.sha256)
    assert req.headers["X-Notifier-Signature"] == "sha256=" + mac.hexdigest()
    assert sign("whsec_test", timestamp, req.body) == req.headers["X-Notifier-Signature"]
    assert req.json() == {"id": 41, "event": "notification.created", "tenant_id": 2, "data": ITEM}


def test_webhook_digest_sends_items(http_receiver: HttpReceiver) -> None:
    items = [{**ITEM, "id": 1}, {**ITEM, "id": 2}]
    target = {"url": http_receiver.url("/h"), "secret": "s"}
    WebhookChannel(ALLOW).send(make_job("webhook", target, *items))

    body = http_receiver.requests[0].json()
    assert (body["event"], body["items"], "data" in body) == ("notification.digest", items, False)


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (Reply(200), None, None),
        (Reply(204), None, None),
        (Reply(410), PermanentError, None),
        (Reply(400), PermanentError, None),
        (Reply(429, {"Retry-After": "30"}), TransientError, 30.0),
        (Reply(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), TransientError, 0.0),
        (Reply(500), TransientError, None),
        (Reply(302, {"Location": "/elsewhere"}), PermanentError, None),
    ],
    ids=lambda value: str(value.status) if isinstance(value, Reply) else None,
)
def test_webhook_answers_map_to_retry_or_dead(
    http_receiver: HttpReceiver,
    reply: Reply,
    error: type[Exception] | None,
    retry_after: float | None,
) -> None:
    http_receiver.script(reply)
    send = WebhookChannel(ALLOW).send
    job = make_job("webhook", {"url": http_receiver.url("/h"), "secret": "s"})
    if error is None:
        send(job)
    else:
        with pytest.raises(error) as info:
            send(job)
        assert getattr(info.value, "retry_after", None) == retry_after
    # One request each: nothing is retried here and a redirect is never followed.
    assert [r.path for r in http_receiver.requests] == ["/h"]


def test_webhook_retry_after_a_503_is_delivered(http_receiver: HttpReceiver) -> None:
    http_receiver.script(503, 200, retry_after=5)
    channel = WebhookChannel(ALLOW)
    job = make_job("webhook", {"url": http_receiver.url("/h"), "secret": "s"})
    with pytest.raises(TransientError) as info:
        channel.send(job)
    assert info.value.retry_after == 5.0
    channel.send(job)
    first, second = http_receiver.wait_for(2)
    assert first.headers["X-Notifier-Delivery"] == second.headers["X-Notifier-Delivery"] == "41"


def test_webhook_to_a_private_address_needs_the_flag(http_receiver: HttpReceiver) -> None:
    job = make_job("webhook", {"url": http_receiver.url("/h"), "secret": "s"})
    with pytest.raises(PermanentError, match="non-public address"):
        WebhookChannel({}).send(job)
    assert http_receiver.requests == []

    WebhookChannel(ALLOW).send(job)
    assert len(http_receiver.requests) == 1


@pytest.mark.parametrize(
    ("url", "allow_private", "problem"),
    [
        ("file:///etc/passwd", True, "only http and https"),
        ("gopher://127.0.0.1:70/", True, "only http and https"),
        ("http://127.0.0.1:8080/hook", False, "non-public"),
        ("http://localhost/hook", False, "non-public"),
        ("http://[::1]/hook", False, "non-public"),
        ("http://[::ffff:10.0.0.1]/hook", False, "non-public"),
        ("http://169.254.169.254/latest/meta-data", False, "non-public"),
        ("http://10.1.2.3/", False, "non-public"),
        ("http://192.168.0.10/", False, "non-public"),
        ("http://100.64.0.1/", False, "non-public"),
        ("http://0.0.0.0/", False, "non-public"),
        ("http://224.0.0.1/", False, "non-public"),
        ("https://user:pw@8.8.8.8/", False, "credentials"),
        ("https:///no-host", False, "no host"),
        ("http://127.0.0.1:8080/hook", True, None),
        ("https://8.8.8.8/hook", False, None),
        ("http://[2001:4860:4860::8888]:8443/hook", False, None),
    ],
)
def test_validate_webhook_url(url: str, allow_private: bool, problem: str | None) -> None:
    result = validate_webhook_url(url, allow_private)
    assert result is None if problem is None else problem in (result or "")


def test_webhook_refuses_non_http_schemes_when_sending() -> None:
    with pytest.raises(PermanentError, match="only http and https"):
        WebhookChannel(ALLOW).send(
            make_job("webhook", {"url": "file:///etc/passwd", "secret": "s"})
        )


def test_webhook_nothing_listening_is_transient() -> None:
    target = {"url": f"http://127.0.0.1:{free_port()}/h", "secret": "s"}
    with pytest.raises(TransientError):
        WebhookChannel(ALLOW).send(make_job("webhook", target))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), (None, None), ("soon", None), (formatdate(0, usegmt=True), 0.0)],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


# --- web push --------------------------------------------------------------------------------


class Browser:
    """The browser side of a push subscription: its own P-256 key pair and auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = {
            "endpoint": endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> Any:
        """Decrypt an aes128gcm push message body as the browser would."""
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth)
        return json.loads(plain)


@pytest.fixture
def vapid_config() -> dict[str, Any]:
    public, private = generate_vapid_keys()
    return {
        "NOTIFIER_VAPID_PUBLIC_KEY": public,
        "NOTIFIER_VAPID_PRIVATE_KEY": private,
        "NOTIFIER_VAPID_SUBJECT": "mailto:ops@notifier.example",
        **ALLOW,
    }


def test_push_payload_decrypts_and_carries_vapid(
    http_receiver: HttpReceiver, vapid_config: dict[str, Any]
) -> None:
    http_receiver.script(201)
    browser = Browser(http_receiver.url("/push/sub-1"))
    PushChannel(vapid_config).send(make_job("push", browser.subscription))

    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/push/sub-1")
    assert (req.headers["TTL"], req.headers["Urgency"]) == ("86400", "high")
    assert req.headers["Content-Encoding"] == "aes128gcm"
    authorization = req.headers["Authorization"]
    assert Vapid02.verify(authorization)  # Signed by the key named in k=...
    assert f"k={vapid_config['NOTIFIER_VAPID_PUBLIC_KEY']}" in authorization
    claims_b64 = authorization.split("t=", 1)[1].split(",", 1)[0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
    assert claims["aud"] == http_receiver.base_url
    assert claims["sub"] == "mailto:ops@notifier.example"
    assert browser.decrypt(req.body) == {
        "title": ITEM["title"],
        "body": ITEM["body"],
        "url": ITEM["url"],
        "tag": "notification-7",
        "id": 7,
    }


@pytest.mark.parametrize("status", [404, 410])
def test_push_gone_subscription(
    http_receiver: HttpReceiver, vapid_config: dict[str, Any], status: int
) -> None:
    http_receiver.script(status)
    browser = Browser(http_receiver.url("/push/old"))
    with pytest.raises(PushGone, match="gone") as info:
        PushChannel(vapid_config).send(make_job("push", browser.subscription))
    assert is_gone(info.value) and isinstance(info.value, PermanentError)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(503, {"Retry-After": "12"}), TransientError),
        (Reply(429), TransientError),
        (Reply(400), PermanentError),
        (Reply(302, {"Location": "/elsewhere"}), PermanentError),
    ],
    ids=["503", "429", "400", "302"],
)
def test_push_service_answers_map_to_retry_or_dead(
    http_receiver: HttpReceiver, vapid_config: dict[str, Any], reply: Reply, error: type
) -> None:
    http_receiver.script(reply)
    browser = Browser(http_receiver.url("/push/x"))
    with pytest.raises(error) as info:
        PushChannel(vapid_config).send(make_job("push", browser.subscription))
    assert not is_gone(info.value)
    assert len(http_receiver.requests) == 1
    if reply.status == 503:
        assert info.value.retry_after == 12.0


def test_push_to_a_private_endpoint_needs_the_flag(
    http_receiver: HttpReceiver, vapid_config: dict[str, Any]
) -> None:
    browser = Browser(http_receiver.url("/push/x"))
    cfg = {**vapid_config, "NOTIFIER_WEBHOOK_ALLOW_PRIVATE": False}
    with pytest.raises(PermanentError, match="refused push endpoint"):
        PushChannel(cfg).send(make_job("push", browser.subscription))
    assert http_receiver.requests == []


def test_push_nothing_listening_is_transient(vapid_config: dict[str, Any]) -> None:
    browser = Browser(f"http://127.0.0.1:{free_port()}/push/x")
    with pytest.raises(TransientError):
        PushChannel(vapid_config).send(make_job("push", browser.subscription))


def test_generated_vapid_keys_match_and_load_in_py_vapid() -> None:
    public, private = generate_vapid_keys()
    raw_public = base64.urlsafe_b64decode(public + "=" * (-len(public) % 4))
    assert len(raw_public) == 65 and raw_public[0] == 4  # Uncompressed point, as browsers need.
    loaded = Vapid.from_string(private_key=private).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert loaded == raw_public


# --- registry --------------------------------------------------------------------------------


def test_build_channels_returns_the_configured_ones(vapid_config: dict[str, Any]) -> None:
    assert CHANNEL_NAMES == ("in_app", "email", "push", "sms", "webhook", "chat")
    assert list(build_channels({})) == ["webhook", "chat"]
    cfg = {**vapid_config, "NOTIFIER_SMTP_HOST": "mail.test", "NOTIFIER_SMS_URL": "https://s.t/"}
    assert sorted(build_channels(cfg)) == ["chat", "email", "push", "sms", "webhook"]
