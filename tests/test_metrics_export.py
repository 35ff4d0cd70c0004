"""/metrics in one process: HTTP, delivery, queue and process figures, and promtool's verdict.

The multiprocess side (several gunicorn workers answering one sum) is in test_metrics_live.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from notifier.bus.base import Message
from notifier.delivery import tick
from notifier.extensions import db, state
from notifier.models import User
from tests.conftest import make_app
from tests.factories import World, make_user
from tests.fixtures_receivers import SmtpServer
from tests.fixtures_redis import RedisServer
from tests.sse_client import Tab
from tests.test_delivery import make_due, queue, sqlite_app
from tests.test_metrics import scrape


def key(name: str, **labels: object) -> str:
    """Return the key ``scrape`` uses for one sample: ``name{k=v,…}`` with sorted labels."""
    if not labels:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


def delta(after: dict[str, float], before: dict[str, float], name: str, **labels: object) -> float:
    """Return how much one sample grew between two scrapes (absent counts as 0)."""
    k = key(name, **labels)
    return after.get(k, 0.0) - before.get(k, 0.0)


def test_http_requests_are_counted_by_route_template_method_and_status(
    client: FlaskClient, world: World
) -> None:
    before = scrape(client)
    assert client.get("/healthz").status_code == 200
    for nid in (9001, 9002):  # two raw paths, one route
        assert client.get(f"/api/v1/notifications/{nid}", headers=world.alice_h).status_code == 404
    assert client.get("/no/such/page").status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405
    after = scrape(client)

    one = "/api/v1/notifications/<int:notification_id>"

    def grew(name: str, **labels: object) -> float:
        return delta(after, before, name, **labels)

    requests = "notifier_http_requests_total"
    assert grew(requests, method="GET", route="/healthz", status=200) == 1
    assert grew(requests, method="GET", route=one, status=404) == 2
    assert grew(requests, method="GET", route="unmatched", status=404) == 1
    assert grew(requests, method="other", route="unmatched", status=405) == 1
    # The first scrape is counted once it has answered.
    assert grew(requests, method="GET", route="/metrics", status=200) == 1
    assert not any("/9001" in name for name in after)  # never the raw path
    assert grew("notifier_http_request_duration_seconds_count", method="GET", route=one) == 2
    inf = key("notifier_http_request_duration_seconds_bucket", le="+Inf", method="GET", route=one)
    assert after[inf] >= 2


def test_streams_are_counted_but_not_timed(client: FlaskClient, world: World) -> None:
    route = "/api/v1/notifications/stream"
    before = scrape(client)
    tab = Tab(client, headers=world.alice_h)
    tab.read_until("stats")
    tab.close()
    after = scrape(client)
    assert (
        delta(after, before, "notifier_http_requests_total", method="GET", route=route, status=200)
        == 1
    )
    # A delta, not "absent": the registry is per process, and earlier tests' refused stream
    # requests (401, 429: ordinary answers) are timed under the same route.
    timed = "notifier_http_request_duration_seconds_count"
    assert delta(after, before, timed, method="GET", route=route) == 0


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    """An app whose email channel points at the real SMTP server (context pushed)."""
    yield from sqlite_app(tmp_path, **smtp_server.config())


def test_deliveries_are_counted_by_channel_and_the_queue_read_from_the_database(
    mail_app: Flask, smtp_server: SmtpServer
) -> None:
    client = mail_app.test_client()
    alice: User = make_user("alice@example.com")
    before = scrape(client)
    ids = [queue(alice, title=f"n{i}") for i in range(3)]
    queued = scrape(client)
    assert queued["notifier_delivery_queue_up"] == 1
    assert queued["notifier_delivery_pending{channel=email}"] == 3
    assert queued["notifier_delivery_due{channel=email}"] == 3
    assert queued["notifier_delivery_oldest_due_age_seconds{channel=email}"] >= 0
    assert queued["notifier_delivery_pending{channel=sms}"] == 0  # every channel, from zero

    assert tick(mail_app, limit=2) == 2  # two sent; one still due
    smtp_server.fail("451 4.3.0 Try again later", at="rcpt", times=1)
    assert tick(mail_app) == 1  # the third is deferred: failed, retried later
    mid = scrape(client)
    rows, attempts = "notifier_deliveries_total", "notifier_delivery_attempts_total"
    assert delta(mid, before, rows, channel="email", outcome="sent") == 2
    assert delta(mid, before, rows, channel="email", outcome="failed") == 1
    assert delta(mid, before, attempts, channel="email", result="ok") == 2
    assert delta(mid, before, attempts, channel="email", result="transient") == 1
    assert delta(mid, before, "notifier_delivery_send_seconds_count", channel="email") == 3
    assert mid["notifier_delivery_pending{channel=email}"] == 1  # waiting for its retry
    assert mid["notifier_delivery_due{channel=email}"] == 0

    smtp_server.fail("550 5.1.1 No such user", at="rcpt", times=1)
    make_due(ids[2])
    assert tick(mail_app) == 1
    after = scrape(client)
    assert delta(after, before, rows, channel="email", outcome="dead") == 1
    assert delta(after, before, attempts, channel="email", result="permanent") == 1
    assert after["notifier_delivery_pending{channel=email}"] == 0
    assert after["notifier_delivery_dead{channel=email}"] == 1


def test_a_database_failure_leaves_the_other_metrics_served(
    app: Flask, client: FlaskClient
) -> None:
    db.session.execute(text("DROP TABLE deliveries"))
    db.session.commit()
    got = scrape(client)
    assert got["notifier_delivery_queue_up"] == 0
    assert "notifier_delivery_pending{channel=email}" not in got
    assert "notifier_stream_connections" in got


def test_process_metrics_are_labelled_with_the_pid(client: FlaskClient) -> None:
    got = scrape(client)
    pid = os.getpid()
    assert got[f"process_resident_memory_bytes{{pid={pid}}}"] > 10 * 2**20
    assert (
        got[f"process_virtual_memory_bytes{{pid={pid}}}"]
        >= got[f"process_resident_memory_bytes{{pid={pid}}}"]
    )
    assert got[f"process_open_fds{{pid={pid}}}"] >= 3  # stdin, stdout, stderr at least
    assert got[f"process_max_fds{{pid={pid}}}"] >= got[f"process_open_fds{{pid={pid}}}"]
    assert got[f"process_cpu_seconds_total{{pid={pid}}}"] > 0
    assert time.time() - 86400 < got[f"process_start_time_seconds{{pid={pid}}}"] <= time.time()


def test_exposition_passes_promtool(client: FlaskClient, world: World) -> None:
    client.get("/healthz")
    client.get("/api/v1/notifications/1", headers=world.alice_h)
    body = client.get("/metrics").get_data()
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed for this test (Debian: apt-get install prometheus)"
    check = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_bus_failures_of_this_process_reach_the_counters(
    tmp_path: Any, redis_url: str, redis_server: RedisServer
) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'bus.sqlite'}", REDIS_URL=redis_url)
    client = app.test_client()
    with app.app_context():
        before = scrape(client)
        redis_server.kill()
        try:
            broker = state(app).broker
            assert broker.publish([Message(1, 1, 1, "notification", {})]) is False
            assert broker.publish([Message(1, 1, 2, "notification", {})]) is False
            after = scrape(client)
        finally:
            redis_server.start()
            db.engine.dispose()
    assert delta(after, before, "notifier_bus_publish_failures_total") == 2
