"""Workflows in real server processes: a restart in the middle of a wait, presence over Redis.

Each server is ``python app.py`` in a subprocess (tests/fixtures_live.py) running its own
worker loops; email goes to the real SMTP server of this test process. Waits are a few real
seconds; the tests poll with deadlines, never sleep to synchronise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_live import LiveServer, http_json
from tests.fixtures_receivers import SmtpServer
from tests.fixtures_redis import RedisServer
from tests.sse_client import SSEClient, bearer, token_for

DEADLINE = 45.0


def smtp_env(smtp: SmtpServer) -> dict[str, str]:
    return {k: str(v) for k, v in smtp.config().items()}


def put_flow(server: LiveServer, admin: str, steps: list[dict[str, Any]]) -> None:
    status, body = http_json(
        "PUT", f"{server.url}/api/v1/workflows/comment", {"steps": steps}, bearer(admin)
    )
    assert status in (200, 201), body


def publish(server: LiveServer, admin: str, email: str, title: str) -> int:
    body = {"email": email, "type": "comment", "title": title}
    status, doc = http_json("POST", f"{server.url}/api/v1/notifications", body, bearer(admin))
    assert status == 201, doc
    return int(doc["notification"]["id"])


def steps(server: LiveServer, token: str, nid: int) -> list[dict[str, Any]]:
    url = f"{server.url}/api/v1/notifications/{nid}/deliveries"
    status, doc = http_json("GET", url, headers=bearer(token))
    assert status == 200, doc
    return list(doc)


def until(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` at the deadline."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def statuses(server: LiveServer, token: str, nid: int) -> list[tuple[Any, Any, Any]]:
    return [(s["channel"], s["status"], s["reason"]) for s in steps(server, token, nid)]


def test_a_restart_in_the_middle_of_a_wait_loses_nothing_and_sends_nothing_twice(
    live_server_factory: Callable[..., LiveServer], smtp_server: SmtpServer
) -> None:
    server = live_server_factory(smtp_env(smtp_server), seed=True)
    admin = token_for(server, "admin@example.com")
    alice = token_for(server, "alice@example.com")
    put_flow(
        server,
        admin,
        [{"channel": "in_app"}, {"wait": "PT5S", "unless": "read"}, {"channel": "email"}],
    )
    unread = publish(server, admin, "alice@example.com", "Deploy failed")
    read = publish(server, admin, "alice@example.com", "Deploy retried")
    for nid in (unread, read):
        until(
            lambda nid=nid: (
                steps(server, alice, nid)[1]["status"] == "pending"
                and steps(server, alice, nid)[1]["reason"]
            ),
            "the run to enter its wait",
        )
    status, _ = http_json(
        "POST", f"{server.url}/api/v1/notifications/{read}/read", {}, bearer(alice)
    )
    assert status == 200

    server.kill()  # SIGKILL in the middle of both waits: nothing runs on the way out
    server.start()

    until(lambda: statuses(server, alice, unread)[2][1] == "sent", "the email after the restart")
    until(lambda: statuses(server, alice, read)[2][1] == "skipped", "the read run to end")
    assert statuses(server, alice, read) == [
        ("in_app", "sent", None),
        (None, "sent", "read in time"),
        ("email", "skipped", "read in time"),
    ]
    (mail,) = smtp_server.messages
    assert "Deploy failed" in str(mail.message["Subject"])
    assert statuses(server, alice, unread)[1] == (None, "sent", "waited")


@pytest.mark.redis
def test_a_user_connected_to_one_process_stops_a_workflow_running_in_another(
    live_server_factory: Callable[..., LiveServer],
    redis_server: RedisServer,
    redis_url: str,
    tmp_path: Path,
) -> None:
    # Two processes that share nothing but Redis: their own databases (the same demo ids).
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = live_server_factory({"REDIS_URL": redis_url}, seed=True, workdir=tmp_path / "one")
    two = live_server_factory({"REDIS_URL": redis_url}, seed=True, workdir=tmp_path / "two")
    alice_on_one = token_for(one, "alice@example.com")
    admin_two = token_for(two, "admin@example.com")
    put_flow(
        two,
        admin_two,
        [{"channel": "in_app"}, {"wait": "PT1S", "unless": "connected"}, {"channel": "email"}],
    )
    tab = SSEClient(one.url, headers=bearer(alice_on_one))
    try:
        assert tab.status == 200 and tab.wait_event("connected", timeout=15)
        client = redis_server.client()
        try:
            # Process one shares its connected users every 2 s (with its node stats).
            until(
                lambda: any(client.sismember(k, "2") for k in client.keys("notifier:presence:*")),
                "process one to share alice's presence",
            )
        finally:
            client.close()
        alice_nid = publish(two, admin_two, "alice@example.com", "Review requested")
        bob_nid = publish(two, admin_two, "bob@example.com", "Review requested")
        until(lambda: statuses(two, admin_two, alice_nid)[2][1] == "skipped", "alice's run")
        until(lambda: statuses(two, admin_two, bob_nid)[2][1] == "skipped", "bob's run")
    finally:
        tab.close()
    assert statuses(two, admin_two, alice_nid)[1:] == [
        (None, "sent", "connected"),
        ("email", "skipped", "connected"),
    ]
    # Bob has no stream anywhere: his run went on past the wait (process two has no SMTP).
    assert statuses(two, admin_two, bob_nid)[1:] == [
        (None, "sent", "waited"),
        ("email", "skipped", "email channel is not configured"),
    ]
