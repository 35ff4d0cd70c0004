"""A user's workflow runs and their steps are in the self-service export and go with erasure.

On SQLite and on PostgreSQL (the erase walks foreign keys: steps go with their runs).
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from notifier.extensions import db
from notifier.models_flows import WorkflowRun, WorkflowStep
from notifier.service import workflow_runs, workflows
from tests import factories

STEPS = [{"channel": "in_app"}, {"wait": "PT1H", "unless": "read"}, {"channel": "email"}]


def publish(client: FlaskClient, w: factories.World, user_id: int) -> int:
    body = {"user_id": user_id, "type": "comment", "title": "Invoice overdue"}
    r = client.post("/api/v1/notifications", headers=w.admin_h, json=body)
    assert r.status_code == 201
    return int(r.get_json()["notification"]["id"])


def test_runs_and_steps_are_exported_and_erased_with_their_user(any_app: Flask) -> None:
    w = factories.make_world()
    workflows.put(w.acme.id, "comment", STEPS, None, False)
    client = any_app.test_client()
    nid = publish(client, w, w.alice.id)
    publish(client, w, w.bob.id)
    assert workflow_runs.tick() == 2

    doc = client.get("/api/v1/me/export", headers=w.alice_h).get_json()
    (run,) = doc["other"]["workflow_runs"]
    assert run["notification_id"] == nid and run["user_id"] == w.alice.id
    assert [(s["position"], s["status"]) for s in doc["other"]["workflow_steps"]] == [
        (0, "sent"),
        (1, "pending"),
    ]
    assert {s["run_id"] for s in doc["other"]["workflow_steps"]} == {run["id"]}

    r = client.delete(f"/api/v1/users/{w.alice.id}", headers=w.admin_h)
    assert r.status_code == 204
    runs = db.session.scalars(select(WorkflowRun.user_id)).all()
    assert runs == [w.bob.id]
    left = db.session.scalar(
        select(func.count()).select_from(WorkflowStep).where(WorkflowStep.run_id != run["id"])
    )
    assert db.session.scalar(select(func.count()).select_from(WorkflowStep)) == left == 2
