"""The delivery pools in one process: claims skip a full channel, leases fit the timeout, drain.

The concurrency itself (a frozen SMTP server, webhooks going on, the bound counted at the
receiver) is tested in a gevent-patched server in ``test_delivery_concurrency.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from notifier.channels import DeliveryJob, EmailChannel, TransientError
from notifier.delivery import LEASE, drain, pools_for, tick
from notifier.delivery.claim import claim_next
from notifier.delivery.pool import MARGIN, Bounded, lease_for
from notifier.models import User, utcnow
from tests.factories import make_user
from tests.fixtures_receivers import SmtpServer
from tests.test_delivery import queue, reload, sqlite_app


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    yield from sqlite_app(tmp_path, NOTIFIER_DELIVERY_CONCURRENCY=1, **smtp_server.config())


@pytest.fixture
def alice(mail_app: Flask) -> User:
    return make_user("alice@example.com")


@pytest.mark.parametrize(("timeout", "lease"), [(1, LEASE), (10, LEASE), (100, 260)])
def test_the_lease_outlives_a_timed_out_send_and_its_record(
    timeout: float, lease: timedelta | int
) -> None:
    got = lease_for({"NOTIFIER_DELIVERY_TIMEOUT": timeout})
    assert got == (lease if isinstance(lease, timedelta) else timedelta(seconds=lease))
    # The send, the channel's clean-up (one more socket timeout) and both margins fit.
    assert got >= 2 * timedelta(seconds=timeout) + 2 * MARGIN


def test_a_full_channel_is_skipped_and_its_rows_stay_unleased(mail_app: Flask, alice: User) -> None:
    mail = queue(alice, "email", "Mail")
    hook = queue(alice, "webhook", "Hook")
    claim = claim_next(utcnow(), skip=["email"])
    assert claim is not None and claim.ids == [hook]
    assert reload(mail).locked_until is None  # free for the pool once it has room
    assert claim_next(utcnow(), skip=["email"]) is None  # the hook is leased now


def test_a_send_that_would_outlive_its_lease_is_not_started(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    job = DeliveryJob(1, "email", alice.id, alice.tenant_id, alice.email, [{"title": "Late"}])
    channel = Bounded(EmailChannel(mail_app.config), 10, utcnow() + MARGIN)
    with pytest.raises(TransientError, match="lease ran short"):
        channel.send(job)
    assert smtp_server.messages == []
    Bounded(EmailChannel(mail_app.config), 10, utcnow() + LEASE).send(job)
    assert [m.message["Subject"] for m in smtp_server.messages] == ["Late"]


def test_the_worker_tick_does_not_wait_and_drain_lets_sends_record(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    first, second = queue(alice, "email", "One"), queue(alice, "email", "Two")
    # A pool of one: the worker's tick claims one email and leaves the other queued.
    assert tick(mail_app, wait=False) == 1
    assert pools_for(mail_app).busy() == {"email": 1}
    assert smtp_server.messages == []  # still in flight: the tick did not wait for it
    drain(mail_app, timeout=30)  # what stop_workers does on the way out
    assert [m.message["Subject"] for m in smtp_server.messages] == ["One"]
    assert reload(first).status == "sent"
    assert (reload(second).status, reload(second).locked_until) == ("pending", None)
    assert tick(mail_app) == 1  # wait=True (tests, CLI): returns once recorded
    assert reload(second).status == "sent"
