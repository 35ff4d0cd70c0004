"""Workflow routes (CONTRACT §10): a type's steps (admin) and a notification's step statuses."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_workflows import WorkflowBody
from notifier.auth import api_auth
from notifier.service import clean, workflow_steps, workflows
from notifier.service.errors import NotFound


@bp.get("/workflows")
@api_auth(admin=True)
def list_workflows() -> Any:
    """Return the tenant's workflows by type."""
    items = [workflows.workflow_dict(w) for w in workflows.listing(g.user.tenant_id)]
    return jsonify({"items": items})


@bp.get("/workflows/<ntype>")
@api_auth(admin=True)
def get_workflow(ntype: str) -> Any:
    """Return the tenant's workflow of ``ntype`` (404 when it has none)."""
    return jsonify(workflows.workflow_dict(workflows.get(g.user.tenant_id, ntype)))


@bp.put("/workflows/<ntype>")
@api_auth(admin=True)
def put_workflow(ntype: str) -> Any:
    """Create (201) or replace (200) the workflow of ``ntype``."""
    workflows.check_type(ntype)
    body = parse(WorkflowBody, "invalid workflow")
    steps = [s.model_dump(exclude_none=True) for s in body.steps]
    throttle = body.throttle.model_dump() if body.throttle else None
    wf, created = workflows.put(g.user.tenant_id, ntype, steps, throttle, body.optimize_send_time)
    return jsonify(workflows.workflow_dict(wf)), 201 if created else 200


@bp.delete("/workflows/<ntype>")
@api_auth(admin=True)
def delete_workflow(ntype: str) -> Any:
    """Remove the workflow of ``ntype``; runs already started go on."""
    workflows.remove(g.user.tenant_id, ntype)
    return "", 204


@bp.get("/notifications/<int:notification_id>/deliveries")
@api_auth()
def notification_deliveries(notification_id: int) -> Any:
    """Return what each step did for the owner, or an admin of its tenant; others 404."""
    if notification_id > clean.INT64_MAX:
        raise NotFound("notification not found")
    return jsonify(workflow_steps.deliveries(g.user, notification_id))
