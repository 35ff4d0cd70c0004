"""Test claiming: leases, crashed workers, concurrent workers, quiet hours.

The concurrency tests run on SQLite and on a throwaway PostgreSQL cluster: two app instances
(two processes' worth of engines, sessions and channels) tick the same database at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from notifier import create_app
from notifier.delivery import LEASE, tick
from notifier.delivery.claim import claim_next
from notifier.delivery.jobs import Outcome
from notifier.delivery.outcome import record
from notifier.extensions import db
from notifier.models import Delivery, utcnow
from notifier.service import notify as notify_svc
from notifier.service import preferences
from notifier.service.content import validate_content
from tests.conftest import make_app
from tests.factories import make_user
from tests.fixtures_receivers import SmtpServer
from tests.test_delivery import delivery_ids, queue, reload, sqlite_app

ROWS = 30


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    yield from sqlite_app(tmp_path, **smtp_server.config())


def test_a_row_leased_by_another_worker_is_left_alone(
    mail_app: Flask,
    smtp_server: SmtpServer,
) -> None:
    alice = make_user("alice@example.com")
    did = queue(alice, locked_until=utcnow() + timedelta(seconds=60))

    assert tick(mail_app) == 0

    assert smtp_server.messages == []
    assert reload(did).status == "pending"


def test_a_crashed_workers_lease_runs_out_and_the_row_is_sent(
    mail_app: Flask,
    smtp_server: SmtpServer,
) -> None:
    alice = make_user("alice@example.com")
    # A worker claimed it, then died before recording anything: the lease is in the past.
    did = queue(alice, locked_until=utcnow() - timedelta(seconds=1))

    assert tick(mail_app) == 1

    assert delivery_ids(smtp_server) == [did]
    assert (reload(did).status, reload(did).locked_until) == ("sent", None)


def test_a_late_result_after_a_takeover_is_dropped(mail_app: Flask) -> None:
    alice = make_user("alice@example.com")
    did = queue(alice)
    claim = claim_next(utcnow())
    assert claim is not None and claim.ids == [did]
    assert reload(did).locked_until == claim.lease
    assert claim.lease - utcnow() <= LEASE
    # The lease ran out mid-send; another worker claimed the row (a newer lease) and sent it.
    row = reload(did)
    row.locked_until = claim.lease + LEASE
    db.session.commit()

    recorded = record(claim, Outcome("retry", "SMTP unavailable"), mail_app.config, utcnow())

    assert recorded.status == "lost"
    row = reload(did)
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert row.locked_until == claim.lease + LEASE


def test_a_row_in_quiet_hours_waits_until_they_end(
    mail_app: Flask,
    smtp_server: SmtpServer,
) -> None:
    alice = make_user("alice@example.com")
    now = utcnow()
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=2))
    quiet = {"enabled": True, "start": start, "end": end.strftime("%H:%M"), "timezone": "UTC"}
    preferences.set_preferences(alice, {"quiet_hours": quiet}, merge=True)
    content = validate_content({"type": "comment", "title": "Late", "channels": ["email"]})
    notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    [row] = db.session.scalars(select(Delivery)).all()
    assert row.due_at > now + timedelta(hours=1)

    assert tick(mail_app) == 0
    assert smtp_server.messages == []
    assert reload(row.id).locked_until is None  # Not even claimed.

    row.due_at = utcnow() - timedelta(seconds=1)  # Quiet hours are over.
    db.session.commit()
    assert tick(mail_app) == 1
    assert delivery_ids(smtp_server) == [row.id]


def _second_instance(url: str, config: dict[str, Any]) -> Flask:
    """Another process's app on the same database (no schema reset)."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": url,
            "NOTIFIER_TESTING_FAST_HASH": True,
            "NOTIFIER_INSTANCE": "second",
            **config,
        }
    )


def test_two_workers_never_send_a_row_twice(any_app: Flask, smtp_server: SmtpServer) -> None:
    any_app.config.update(smtp_server.config())
    other = _second_instance(any_app.config["DATABASE_URL"], smtp_server.config())
    alice = make_user("alice@example.com")
    ids = [queue(alice, title=f"n{i}") for i in range(ROWS)]
    start = threading.Barrier(2)

    def work(app: Flask) -> int:
        start.wait()
        handled = 0
        while n := tick(app, limit=3):
            handled += n
        return handled

    try:
        with ThreadPoolExecutor(2) as pool:
            counts = [f.result() for f in [pool.submit(work, any_app), pool.submit(work, other)]]
    finally:
        with other.app_context():
            db.engine.dispose()

    assert sum(counts) == ROWS  # Each row recorded once, by one of the two.
    sent = Counter(delivery_ids(smtp_server))
    assert sorted(sent) == ids and set(sent.values()) == {1}
    rows = db.session.scalars(select(Delivery).execution_options(populate_existing=True)).all()
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}


def test_postgres_skips_rows_another_transaction_holds(
    fresh_postgres_url: str, smtp_server: SmtpServer
) -> None:
    # lock_timeout turns a worker that waited on the held row (no SKIP LOCKED) into an error.
    options = {"connect_args": {"options": "-c lock_timeout=5000"}}
    app = make_app(fresh_postgres_url, SQLALCHEMY_ENGINE_OPTIONS=options, **smtp_server.config())
    with app.app_context():
        try:
            alice = make_user("alice@example.com")
            held, free = queue(alice, title="held"), queue(alice, title="free")
            with db.engine.connect() as conn, conn.begin() as tx:
                # Another worker is between its SELECT … FOR UPDATE and its commit.
                conn.execute(select(Delivery.id).where(Delivery.id == held).with_for_update())
                assert tick(app) == 1
                tx.rollback()
            assert delivery_ids(smtp_server) == [free]
            assert (reload(held).status, reload(held).locked_until) == ("pending", None)

            assert tick(app) == 1
            assert delivery_ids(smtp_server) == [free, held]
        finally:
            db.session.remove()
            db.engine.dispose()
