"""Concurrent deliveries against a real frozen SMTP server and a real webhook receiver.

Each test runs `python app.py` (gevent-patched, its own delivery loop) on the demo data, with
SMTP pointed at :class:`~tests.fixtures_receivers.SmtpServer` (which can hold DATA unanswered,
like a hung mail server, and counts the sessions it holds) and a tenant webhook pointed at
:class:`~tests.fixtures_receivers.HttpReceiver`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import requests

from tests.fixtures_live import LiveServer, http_json
from tests.fixtures_receivers import HttpReceiver, SmtpServer
from tests.sse_client import bearer, token_for

ALICE, BOB = "alice@example.com", "bob@example.com"
ROW = re.compile(r'<tr id="queued-(\d+)" data-state="(\w+)">(.*?)</tr>', re.S)


def start(
    factory: Callable[..., LiveServer], smtp: SmtpServer, hooks: HttpReceiver, **env: str
) -> tuple[LiveServer, str]:
    """Start a seeded server sending mail to ``smtp`` and webhooks to ``hooks``."""
    settings = {key: str(value) for key, value in smtp.config().items()}
    server = factory({**settings, "NOTIFIER_WEBHOOK_ALLOW_PRIVATE": "1", **env}, seed=True)
    token = token_for(server, "admin@example.com")
    status, _ = http_json(
        "POST", server.url + "/api/v1/webhooks", {"url": hooks.url("/hook")}, bearer(token)
    )
    assert status == 201
    return server, token


def notify(server: LiveServer, token: str, email: str, title: str, *channels: str) -> None:
    """Publish one notification to ``email`` on ``channels`` (in-app as well)."""
    body = {"email": email, "type": "comment", "title": title, "channels": ["in_app", *channels]}
    status, answer = http_json("POST", server.url + "/api/v1/notifications", body, bearer(token))
    assert status == 201, answer


def admin_session(server: LiveServer) -> requests.Session:
    """Sign in as the demo admin through the login form."""
    session = requests.Session()
    page = session.get(server.url + "/login", timeout=10).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert csrf
    form = {"email": "admin@example.com", "password": "admin-demo-pass", "csrf_token": csrf[1]}
    assert session.post(server.url + "/login", data=form, timeout=10).ok
    return session


def queue_rows(session: requests.Session, server: LiveServer) -> list[tuple[int, str, str]]:
    """Return (id, state, row HTML) of "Pending and failed deliveries" on /admin."""
    html = session.get(server.url + "/admin", timeout=10).text
    return [(int(i), state, cells) for i, state, cells in ROW.findall(html)]


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Return ``check()`` once it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not met in time"
            return result
        time.sleep(0.2)


def test_a_frozen_smtp_server_holds_up_neither_webhooks_nor_other_emails(
    live_server_factory: Callable[..., LiveServer],
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
) -> None:
    # A long timeout: alice's two sends stay stuck for the whole test.
    server, token = start(
        live_server_factory,
        smtp_server,
        http_receiver,
        NOTIFIER_DELIVERY_CONCURRENCY="3",
        NOTIFIER_DELIVERY_TIMEOUT="60",
    )
    smtp_server.freeze(ALICE)
    try:
        notify(server, token, ALICE, "Stuck one", "email")
        notify(server, token, ALICE, "Stuck two", "email")
        smtp_server.wait_frozen(2)
        for n in range(3):
            notify(server, token, BOB, f"For Bob {n}", "email", "webhook")
        # Serial sending would wait out alice's timeouts first; with a pool per channel the
        # third email slot and the webhook pool carry on.
        mails = smtp_server.wait_for(3, timeout=20)
        hooks = http_receiver.wait_for(3, timeout=20)
        assert sorted(m.message["Subject"] for m in mails) == [f"For Bob {n}" for n in range(3)]
        assert {m.rcpt_tos[0] for m in mails} == {BOB}
        assert sorted(h.json()["data"]["title"] for h in hooks) == [
            f"For Bob {n}" for n in range(3)
        ]
        assert smtp_server.frozen_now == 2  # alice's sends are still stuck meanwhile
        assert smtp_server.max_frozen == 2
    finally:
        smtp_server.thaw()


def test_timed_out_sends_show_as_failed_and_go_later_within_the_pool_bound(
    live_server_factory: Callable[..., LiveServer],
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
) -> None:
    server, token = start(
        live_server_factory,
        smtp_server,
        http_receiver,
        NOTIFIER_DELIVERY_CONCURRENCY="2",
        NOTIFIER_DELIVERY_TIMEOUT="1",
        NOTIFIER_RETRY_BASE="15",  # first retry 12–18 s after a failure
    )
    smtp_server.freeze()
    titles = [f"Report {n}" for n in range(5)]
    for title in titles:
        notify(server, token, ALICE, title, "email", "webhook")
    hooks = http_receiver.wait_for(5, timeout=20)
    assert sorted(h.json()["data"]["title"] for h in hooks) == titles
    admin = admin_session(server)

    def all_failed_once() -> list[tuple[int, str, str]]:
        rows = queue_rows(admin, server)
        failed = [r for r in rows if r[1] == "failed"]
        return failed if len(failed) == 5 else []

    # Each timed-out send is recorded under its lease: failed, one attempt, a next attempt.
    for _, _, cells in wait_until(all_failed_once):
        assert "<td>email</td>" in cells
        assert '<td class="num">1</td>' in cells
        assert re.search(r'<time datetime="[\d\-T:]+Z">\d\d:\d\d:\d\d UTC</time>', cells)
        assert re.search(r"\(in \d+ s\)", cells)
        assert re.search(r"no answer within 1 s|timed out", cells)
    # Counted at the receiver: never more than the pool's two sends at once, and two indeed.
    assert smtp_server.max_frozen == 2

    smtp_server.thaw()
    mails = smtp_server.wait_for(5, timeout=60)  # the retries go out once their time comes
    assert sorted(m.message["Subject"] for m in mails) == titles
    wait_until(lambda: queue_rows(admin, server) == [])
    assert "result dropped" not in server.log()  # no outcome was lost to an expired lease
