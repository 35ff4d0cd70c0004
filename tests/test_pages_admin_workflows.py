"""Admin workflows screen: list, the per-type form of steps, errors in the form, last runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import db
from notifier.models_flows import Workflow
from notifier.service import workflow_runs, workflows
from tests.conftest import AuthActions, make_app
from tests.factories import World, make_world

STEPS = [{"channel": "in_app"}, {"wait": "PT10M", "unless": "read"}, {"channel": "email"}]


def form_of(steps: list[dict[str, Any]], op: str = "save", **extra: str) -> dict[str, Any]:
    """Return the form as the browser posts it: one entry per row in each list."""
    return {
        "kind": ["wait" if "wait" in s else "channel" for s in steps],
        "channel": [s.get("channel", "in_app") for s in steps],
        "wait": [s.get("wait", "") for s in steps],
        "unless": [s.get("unless", "") for s in steps],
        "op": op,
        **extra,
    }


def rows(page: str) -> list[tuple[str, str]]:
    """Return (kind, channel-or-wait) per step row of the form, in order."""
    out = []
    for row in re.findall(r'<div class="step-row".*?</div>\s*</div>', page, flags=re.S):
        kind = re.search(r'<option value="(\w+)" selected>', row)
        assert kind
        if kind.group(1) == "wait":
            wait = re.search(r'name="wait" value="([^"]*)"', row)
            assert wait
            out.append(("wait", wait.group(1)))
        else:
            chans = re.findall(r'<option value="(\w+)" selected>', row)
            out.append(("channel", chans[1]))
    return out


@pytest.fixture
def admin(world: World, client: FlaskClient, auth: AuthActions) -> FlaskClient:
    auth.login("admin@example.com")
    return client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/workflows"),
        ("get", "/admin/workflows/comment"),
        ("post", "/admin/workflows"),
        ("post", "/admin/workflows/comment"),
        ("post", "/admin/workflows/comment/delete"),
    ],
)
def test_members_get_404_and_visitors_login(
    world: World, client: FlaskClient, auth: AuthActions, method: str, path: str
) -> None:
    assert getattr(client, method)(path).status_code in (302, 401)
    auth.login("bob@example.com")
    assert getattr(client, method)(path).status_code == 404


def test_saving_the_form_stores_the_workflow_and_lists_it(admin: FlaskClient, world: World) -> None:
    page = admin.get("/admin/workflows").text
    assert "No workflows yet" in page
    r = admin.post("/admin/workflows", data={"type": "deploy"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/workflows/deploy")
    page = admin.get("/admin/workflows/deploy").text
    assert "has no workflow yet" in page
    assert rows(page) == [("channel", "in_app"), ("wait", "PT10M"), ("channel", "email")]

    data = form_of(STEPS, limit="5", per="PT1H", optimize="on")
    r = admin.post("/admin/workflows/deploy", data=data)
    assert r.status_code == 302
    wf = workflows.get(world.acme.id, "deploy")
    assert wf.steps == STEPS
    assert wf.throttle == {"limit": 5, "per": "PT1H"} and wf.optimize_send_time is True
    listing = admin.get("/admin/workflows").text
    assert 'href="/admin/workflows/deploy"' in listing
    assert "in_app → wait PT10M unless read → email" in listing
    assert "5 / PT1H" in listing
    # Another tenant's admin does not see it.
    assert workflows.find(world.globex.id, "deploy") is None


def test_rows_are_added_moved_and_removed_without_saving(admin: FlaskClient, world: World) -> None:
    page = admin.post("/admin/workflows/deploy", data=form_of(STEPS, op="add")).text
    assert rows(page) == [
        ("channel", "in_app"),
        ("wait", "PT10M"),
        ("channel", "email"),
        ("channel", "email"),
    ]
    page = admin.post("/admin/workflows/deploy", data=form_of(STEPS, op="down-0")).text
    assert rows(page) == [("wait", "PT10M"), ("channel", "in_app"), ("channel", "email")]
    page = admin.post("/admin/workflows/deploy", data=form_of(STEPS, op="up-2")).text
    assert rows(page) == [("channel", "in_app"), ("channel", "email"), ("wait", "PT10M")]
    page = admin.post("/admin/workflows/deploy", data=form_of(STEPS, op="remove-1")).text
    assert rows(page) == [("channel", "in_app"), ("channel", "email")]
    assert workflows.find(world.acme.id, "deploy") is None  # nothing was saved


@pytest.mark.parametrize(
    ("steps", "extra", "message"),
    [
        ([{"wait": "10 minutes"}], {}, "an ISO 8601 duration"),
        ([{"wait": "P60D"}], {}, "at most 30 days"),
        ([], {}, "at least 1"),
        ([{"channel": "email"}], {"limit": "0", "per": "PT1H"}, "an integer from 1"),
        ([{"channel": "email"}], {"limit": "3", "per": "hourly"}, "ISO 8601"),
    ],
)
def test_errors_come_back_in_the_form_and_nothing_is_stored(
    admin: FlaskClient,
    world: World,
    steps: list[dict[str, Any]],
    extra: dict[str, str],
    message: str,
) -> None:
    r = admin.post("/admin/workflows/deploy", data=form_of(steps, **extra))
    assert r.status_code == 422
    assert "The workflow was not saved" in r.text and message in r.text
    assert 'aria-invalid="true"' in r.text
    typed = [s.get("wait") or s.get("channel") for s in steps]
    assert [value for _, value in rows(r.text)] == typed  # still there to fix
    assert db.session.query(Workflow).count() == 0


def test_the_last_runs_show_their_step_statuses(admin: FlaskClient, world: World) -> None:
    workflows.put(world.acme.id, "comment", STEPS, None, False)
    r = admin.post(
        "/api/v1/notifications",
        headers=world.admin_h,
        json={"user_id": world.alice.id, "type": "comment", "title": "Hi"},
    )
    assert r.status_code == 201
    workflow_runs.tick()
    page = admin.get("/admin/workflows/comment").text
    runs = re.search(r'aria-labelledby="runs-h">(.*?)</section>', page, flags=re.S)
    assert runs
    text = re.sub(r"<[^>]+>", " ", runs.group(1))
    assert "alice@example.com" in text
    assert "1. in_app: sent" in text
    assert "2. wait PT10M: pending" in text
    assert "3. email: pending" in text


def test_removing_a_workflow(admin: FlaskClient, world: World) -> None:
    workflows.put(world.acme.id, "comment", STEPS, None, False)
    r = admin.post("/admin/workflows/comment/delete")
    assert r.status_code == 302
    assert workflows.find(world.acme.id, "comment") is None
    assert admin.post("/admin/workflows/comment/delete").status_code == 404


@pytest.fixture
def csrf_app(tmp_path: Any) -> Iterator[Flask]:
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_every_workflow_form_needs_its_csrf_token(csrf_app: Flask) -> None:
    world = make_world()
    workflows.put(world.acme.id, "comment", STEPS, None, False)
    client = csrf_app.test_client()
    login = client.get("/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
    assert token
    data = {"csrf_token": token.group(1), "email": "admin@example.com", "password": "password123"}
    assert client.post("/login", data=data).status_code == 302
    for path in ("/admin/workflows", "/admin/workflows/comment"):
        page = client.get(path).text
        forms = [
            f for f in re.findall(r"<form\b.*?</form>", page, flags=re.S) if 'method="post"' in f
        ]
        assert forms and all("csrf_token" in f for f in forms), path
    assert client.post("/admin/workflows/comment/delete").status_code == 400
    assert client.post("/admin/workflows/comment", data=form_of(STEPS[:1])).status_code == 400
    assert workflows.get(world.acme.id, "comment").steps == STEPS
