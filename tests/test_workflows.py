"""Workflows end to end (CONTRACT §10): steps in order, waits that end runs, throttle, statuses.

Email goes to the real SMTP server and push to the real HTTP receiver standing in for the
browser vendor's push service (as tests/test_delivery_push.py). Time never passes here: a
run waiting for its wait to end is made due by moving its ``due_at`` into the past, which is
what the clock would do. The restart and cross-process cases are in test_workflows_live.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from notifier.channels.push import generate_vapid_keys
from notifier.delivery import tick as delivery_tick
from notifier.extensions import db
from notifier.models import Delivery, utcnow
from notifier.models_flows import WorkflowRun, WorkflowStep
from notifier.service import workflow_claim, workflow_runs, workflows
from tests import factories
from tests.conftest import make_app
from tests.fixtures_receivers import HttpReceiver, SmtpServer
from tests.test_delivery_push import subscribe

ESCALATE = [
    {"channel": "in_app"},
    {"wait": "PT10M", "unless": "read"},
    {"channel": "push"},
    {"wait": "PT1H", "unless": "seen"},
    {"channel": "email"},
]


@pytest.fixture
def flow_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    """An app whose email goes to the SMTP server and whose push service is the receiver."""
    public, private = generate_vapid_keys()
    app = make_app(
        f"sqlite:///{tmp_path / 'flows.sqlite'}",
        NOTIFIER_VAPID_PUBLIC_KEY=public,
        NOTIFIER_VAPID_PRIVATE_KEY=private,
        NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True,  # the stand-in push service is on loopback
        **smtp_server.config(),
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def world(flow_app: Flask) -> factories.World:
    return factories.make_world()


@pytest.fixture
def api(flow_app: Flask) -> FlaskClient:
    return flow_app.test_client()


def put_flow(
    api: FlaskClient, w: factories.World, steps: list[dict[str, Any]], **extra: Any
) -> Any:
    r = api.put("/api/v1/workflows/comment", headers=w.admin_h, json={"steps": steps, **extra})
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()


def publish(api: FlaskClient, w: factories.World, user_id: int, **extra: Any) -> int:
    body = {"user_id": user_id, "type": "comment", "title": "Build failed", **extra}
    r = api.post("/api/v1/notifications", headers=w.admin_h, json=body)
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["notification"]["id"])


def steps_of(api: FlaskClient, w: factories.World, nid: int) -> list[tuple[Any, ...]]:
    r = api.get(f"/api/v1/notifications/{nid}/deliveries", headers=w.admin_h)
    assert r.status_code == 200, r.get_json()
    return [(s["channel"], s["status"], s["reason"]) for s in r.get_json()]


def wait_is_over() -> None:
    """Make every running run due now: what the clock does at the end of its wait."""
    db.session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.status == "running")
        .values(due_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def run_all(app: Flask) -> None:
    """Advance every due run, then send the deliveries that made (the workers' two loops)."""
    workflow_runs.tick()
    delivery_tick(app)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"channel": "email"}] * 21}, "steps"),
        ({"steps": [{"channel": "fax"}]}, "steps.channel"),
        ({"steps": [{"channel": "webhook"}]}, "steps.channel"),
        ({"steps": [{"wait": "PT0S"}]}, "steps.wait"),
        ({"steps": [{"wait": "P31D"}]}, "steps.wait"),
        ({"steps": [{"wait": "P1M"}]}, "steps.wait"),  # months have no fixed length
        ({"steps": [{"wait": "10m"}]}, "steps.wait"),
        ({"steps": [{"wait": "PT"}]}, "steps.wait"),
        ({"steps": [{"wait": "PT10M\n"}]}, "steps.wait"),
        ({"steps": [{"wait": 600}]}, "steps.wait"),
        ({"steps": [{"wait": "PT1M", "unless": "clicked"}]}, "steps.unless"),
        ({"steps": [{"channel": "email", "unless": "read"}]}, "steps.unless"),
        ({"steps": [{"channel": "email", "wait": "PT1M"}]}, "steps"),
        ({"steps": [{}]}, "steps"),
        (
            {"steps": [{"channel": "email"}], "throttle": {"limit": 0, "per": "PT1H"}},
            "throttle.limit",
        ),
        ({"steps": [{"channel": "email"}], "throttle": {"limit": 1, "per": "1h"}}, "throttle.per"),
        ({"steps": [{"channel": "email"}], "throttle": {"limit": 1}}, "throttle.per"),
        ({"steps": [{"channel": "email"}], "optimize_send_time": "yes"}, "optimize_send_time"),
        ({"steps": [{"channel": "email"}], "colour": "red"}, "colour"),
    ],
)
def test_a_bad_workflow_is_422_naming_the_field_and_nothing_is_stored(
    api: FlaskClient, world: factories.World, body: dict[str, Any], field: str
) -> None:
    r = api.put("/api/v1/workflows/comment", headers=world.admin_h, json=body)
    assert r.status_code == 422
    assert field in r.get_json()["error"]["fields"], r.get_json()
    assert api.get("/api/v1/workflows/comment", headers=world.admin_h).status_code == 404


def test_a_workflow_is_stored_replaced_listed_and_removed_per_tenant(
    api: FlaskClient, world: factories.World
) -> None:
    steps = [{"channel": "in_app"}, {"wait": "PT10M", "unless": "read"}, {"channel": "email"}]
    r = api.put(
        "/api/v1/workflows/comment",
        headers=world.admin_h,
        json={"steps": steps, "throttle": {"limit": 3, "per": "PT1H"}},
    )
    assert r.status_code == 201
    doc = api.get("/api/v1/workflows/comment", headers=world.admin_h).get_json()
    assert doc["steps"] == steps
    assert doc["throttle"] == {"limit": 3, "per": "PT1H"}
    assert doc["optimize_send_time"] is False
    r = api.put(
        "/api/v1/workflows/comment",
        headers=world.admin_h,
        json={"steps": [{"channel": "email"}], "optimize_send_time": True},
    )
    assert r.status_code == 200
    assert r.get_json()["throttle"] is None and r.get_json()["optimize_send_time"] is True
    listed = api.get("/api/v1/workflows", headers=world.admin_h).get_json()["items"]
    assert [w["type"] for w in listed] == ["comment"]
    # Another tenant's admin neither sees nor removes it; a member may not touch workflows.
    assert api.get("/api/v1/workflows/comment", headers=world.carol_h).status_code == 404
    assert api.delete("/api/v1/workflows/comment", headers=world.carol_h).status_code == 404
    assert api.get("/api/v1/workflows", headers=world.carol_h).get_json()["items"] == []
    assert api.get("/api/v1/workflows/comment", headers=world.alice_h).status_code == 403
    bad = api.put("/api/v1/workflows/bad%20type", headers=world.admin_h, json={"steps": steps})
    assert bad.status_code == 422 and "type" in bad.get_json()["error"]["fields"]
    assert api.delete("/api/v1/workflows/comment", headers=world.admin_h).status_code == 204
    assert api.get("/api/v1/workflows/comment", headers=world.admin_h).status_code == 404


def test_an_item_read_within_the_wait_sends_no_email(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    put_flow(
        api,
        world,
        [{"channel": "in_app"}, {"wait": "PT10M", "unless": "read"}, {"channel": "email"}],
    )
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert steps_of(api, world, nid)[2] == ("email", "pending", None)  # not yet due
    # Alice reads it in the app during the wait.
    assert api.post(f"/api/v1/notifications/{nid}/read", headers=world.alice_h).status_code == 200
    wait_is_over()
    run_all(flow_app)

    assert steps_of(api, world, nid) == [
        ("in_app", "sent", None),
        (None, "sent", "read in time"),
        ("email", "skipped", "read in time"),
    ]
    assert smtp_server.messages == []
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_an_unread_item_escalates_to_push_then_email(
    flow_app: Flask,
    api: FlaskClient,
    world: factories.World,
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
) -> None:
    _, keys = subscribe(world.alice.id, http_receiver.url("/push/alice"))
    put_flow(api, world, ESCALATE)
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert http_receiver.requests == [] and smtp_server.messages == []

    wait_is_over()  # ten minutes later, still unread: push
    run_all(flow_app)
    (push,) = http_receiver.requests
    assert keys.decrypt(push.body)["title"] == "Build failed"
    assert smtp_server.messages == []
    assert [s[1] for s in steps_of(api, world, nid)] == [
        "sent",
        "sent",
        "sent",
        "pending",
        "pending",
    ]

    wait_is_over()  # an hour later, still not even seen: email
    run_all(flow_app)
    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == ["alice@example.com"]
    assert mail.message["Subject"] and "Build failed" in mail.message["Subject"]
    assert len(http_receiver.requests) == 1  # push went once
    assert steps_of(api, world, nid) == [
        ("in_app", "sent", None),
        (None, "sent", "waited"),
        ("push", "sent", None),
        (None, "sent", "waited"),
        ("email", "sent", None),
    ]
    run = db.session.scalars(select(WorkflowRun)).one()
    assert run.status == "done"


def test_seen_in_time_ends_the_run_after_push(
    flow_app: Flask,
    api: FlaskClient,
    world: factories.World,
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
) -> None:
    subscribe(world.alice.id, http_receiver.url("/push/alice"))
    put_flow(api, world, ESCALATE)
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    wait_is_over()
    run_all(flow_app)
    # The push made Alice open the inbox: the item is seen, not read.
    api.post(f"/api/v1/notifications/{nid}/seen", headers=world.alice_h)
    wait_is_over()
    run_all(flow_app)
    assert steps_of(api, world, nid)[3:] == [
        (None, "sent", "seen in time"),
        ("email", "skipped", "seen in time"),
    ]
    assert smtp_server.messages == []


def test_a_disabled_channel_step_is_skipped_and_the_run_goes_on(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    put_flow(api, world, [{"channel": "push"}, {"channel": "sms"}, {"channel": "email"}])
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert steps_of(api, world, nid) == [
        ("push", "skipped", "recipient has no push subscription"),
        ("sms", "skipped", "disabled by preferences"),  # sms is off by default
        ("email", "sent", None),
    ]
    assert len(smtp_server.messages) == 1
    # Preferences are read when the step runs: email switched off now is skipped.
    r = api.patch("/api/v1/preferences", headers=world.alice_h, json={"channels": {"email": False}})
    assert r.status_code == 200
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert steps_of(api, world, nid)[2] == ("email", "skipped", "disabled by preferences")
    assert len(smtp_server.messages) == 1


def test_throttled_publishes_reach_the_inbox_but_skip_external_channels(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    put_flow(
        api,
        world,
        [{"channel": "in_app"}, {"channel": "email"}],
        throttle={"limit": 2, "per": "PT1H"},
    )
    ids = [publish(api, world, world.alice.id, title=f"Build {i} failed") for i in range(3)]
    for _ in ids:
        run_all(flow_app)
    statuses = [steps_of(api, world, nid) for nid in ids]
    assert [s[1][1] for s in statuses] == ["sent", "sent", "throttled"]
    assert statuses[2][1][2] == "more than 2 per PT1H"
    assert len(smtp_server.messages) == 2
    inbox = api.get("/api/v1/notifications", headers=world.alice_h).get_json()
    assert sorted(i["id"] for i in inbox["items"]) == sorted(ids)
    # Bob has his own allowance.
    bob_nid = publish(api, world, world.bob.id)
    run_all(flow_app)
    assert steps_of(api, world, bob_nid)[1][1] == "sent"


def test_deliveries_mirror_failed_and_dead_and_show_plain_notifications(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    # Without a workflow: the inbox row and each Delivery row as steps.
    plain = publish(api, world, world.alice.id, channels=["in_app", "email"])
    delivery_tick(flow_app)
    assert steps_of(api, world, plain) == [("in_app", "sent", None), ("email", "sent", None)]

    put_flow(api, world, [{"channel": "email"}])
    smtp_server.fail("451 4.3.0 Try again later", times=1)
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    ((channel, status, reason),) = steps_of(api, world, nid)
    assert (channel, status) == ("email", "failed")
    assert reason and "451" in reason
    smtp_server.fail("550 5.1.1 No such user")
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    ((channel, status, reason),) = steps_of(api, world, nid)
    assert (channel, status) == ("email", "dead")
    assert reason and "550" in reason


def test_deliveries_of_someone_elses_notification_are_404(
    flow_app: Flask, api: FlaskClient, world: factories.World
) -> None:
    put_flow(api, world, [{"channel": "in_app"}])
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert (
        api.get(f"/api/v1/notifications/{nid}/deliveries", headers=world.alice_h).status_code == 200
    )
    for other in (world.bob_h, world.carol_h):  # another member; another tenant's admin
        r = api.get(f"/api/v1/notifications/{nid}/deliveries", headers=other)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    for missing in (nid + 1000, 2**63, 2**70):
        r = api.get(f"/api/v1/notifications/{missing}/deliveries", headers=world.admin_h)
        assert r.status_code == 404


def test_two_workers_never_run_the_same_step(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    put_flow(api, world, [{"channel": "email"}])
    nid = publish(api, world, world.alice.id)
    run_id = db.session.scalars(select(WorkflowRun.id)).one()
    # The first worker claimed it a lease ago and stalled.
    then = utcnow() - workflow_claim.LEASE - timedelta(seconds=1)
    db.session.execute(update(WorkflowRun).values(due_at=then))
    db.session.commit()
    first = workflow_claim.claim(then)
    assert first is not None and first[0] == [run_id]
    assert workflow_claim.claim(then) is None  # leased: a second worker finds nothing
    # Now its lease is over: a second worker takes the run over, and wakes up first.
    now = utcnow()
    second = workflow_claim.claim(now)
    assert second is not None and second[0] == [run_id]
    assert workflow_runs.advance(run_id, first[1], now) is False  # not its run any more
    assert workflow_runs.advance(run_id, second[1], now) is True
    assert workflow_runs.advance(run_id, second[1], now) is False  # done: nothing twice
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 1
    assert db.session.scalar(select(func.count()).select_from(WorkflowStep)) == 1
    delivery_tick(flow_app)
    assert len(smtp_server.messages) == 1
    assert steps_of(api, world, nid) == [("email", "sent", None)]


def test_optimize_send_time_with_nothing_learned_sends_now(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    put_flow(api, world, [{"channel": "email"}], optimize_send_time=True)
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert steps_of(api, world, nid) == [("email", "sent", None)]
    assert len(smtp_server.messages) == 1


def test_quiet_hours_and_digests_apply_to_a_steps_delivery(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    r = api.patch(
        "/api/v1/preferences", headers=world.alice_h, json={"digest": {"comment": "daily"}}
    )
    assert r.status_code == 200
    put_flow(api, world, [{"channel": "email"}])
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert steps_of(api, world, nid) == [("email", "pending", "in the daily digest")]
    assert smtp_server.messages == []
    row = db.session.scalars(select(Delivery)).one()
    assert row.digest == "daily" and row.notification_id == nid


def test_an_item_deleted_within_the_wait_sends_no_email(
    flow_app: Flask, api: FlaskClient, world: factories.World, smtp_server: SmtpServer
) -> None:
    put_flow(
        api,
        world,
        [{"channel": "in_app"}, {"wait": "PT10M", "unless": "read"}, {"channel": "email"}],
    )
    nid = publish(api, world, world.alice.id)
    run_all(flow_app)
    assert api.delete(f"/api/v1/notifications/{nid}", headers=world.alice_h).status_code == 204
    wait_is_over()
    run_all(flow_app)
    recorded = db.session.execute(
        select(WorkflowStep.channel, WorkflowStep.status, WorkflowStep.reason).order_by(
            WorkflowStep.position
        )
    ).all()
    assert [tuple(r) for r in recorded] == [
        ("in_app", "sent", None),
        (None, "sent", "deleted in time"),
        ("email", "skipped", "deleted in time"),
    ]
    assert smtp_server.messages == []
    # A deleted item's steps are gone from its owner's view like the item itself.
    assert (
        api.get(f"/api/v1/notifications/{nid}/deliveries", headers=world.alice_h).status_code == 404
    )


def test_claims_are_exclusive_and_resume_after_the_wait_on_both_databases(
    any_app: Flask,
) -> None:
    w = factories.make_world()
    workflows.put(w.acme.id, "comment", [{"channel": "in_app"}, {"wait": "PT1H"}], None, False)
    client = any_app.test_client()
    for user in (w.alice, w.bob, w.admin):
        publish(client, w, user.id)
    now = utcnow()
    first = workflow_claim.claim(now, want=2)
    second = workflow_claim.claim(now, want=2)
    assert first is not None and second is not None
    assert len(first[0]) == 2 and len(second[0]) == 1
    assert not set(first[0]) & set(second[0])
    assert workflow_claim.claim(now) is None
    for ids, token in (first, second):
        for run_id in ids:
            assert workflow_runs.advance(run_id, token, now) is True
    assert workflow_runs.tick() == 0  # every run waits now
    wait_is_over()
    assert workflow_runs.tick() == 3
    statuses = db.session.scalars(select(WorkflowRun.status)).all()
    assert statuses == ["done"] * 3


def test_the_publish_answer_says_what_the_workflow_can_reach(
    api: FlaskClient, world: factories.World
) -> None:
    put_flow(api, world, [{"channel": "in_app"}, {"wait": "PT1M"}, {"channel": "email"}])
    body = {"user_id": world.alice.id, "type": "comment", "title": "Hi"}
    result = api.post("/api/v1/notifications", headers=world.admin_h, json=body).get_json()
    channels, errors = result["result"]["channels"], result["result"]["errors"]
    assert channels["in_app"] is True and channels["email"] is True
    assert channels["push"] is False and errors["push"] == "not a step of this type's workflow"
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0  # the run sends
