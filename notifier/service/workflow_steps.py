"""What each step of a run did: record it, and read it back as ``GET …/deliveries`` shows it.

A channel step that made a Delivery row is recorded ``pending`` with the row's id; when read,
its status mirrors the row (``sent``, ``dead``, or ``failed`` while a failed attempt waits for
its retry), so the delivery pool never writes to workflow tables. A plain notification (no
workflow) shows its in-app row and Delivery rows as steps in the same shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update

from notifier.extensions import db
from notifier.models import Delivery, Notification, User
from notifier.models_flows import WorkflowRun, WorkflowStep
from notifier.service.errors import NotFound
from notifier.service.failures import printable
from notifier.service.serialize import iso

MAX_REASON = 200  # workflow_steps.reason


def record(
    run_id: int,
    position: int,
    kind: str,
    channel: str | None,
    status: str,
    reason: str | None,
    at: datetime,
    *,
    delivery_id: int | None = None,
    fresh: bool = False,
) -> None:
    """Record what step ``position`` of a run did (one row per step, updated as it moves on).

    ``fresh``: the caller knows the step has no row yet (one INSERT instead of two statements).
    """
    values = {
        "kind": kind,
        "channel": channel,
        "status": status,
        "reason": printable(reason)[:MAX_REASON] if reason else None,
        "at": at,
        "delivery_id": delivery_id,
    }
    table = cast(Table, WorkflowStep.__table__)
    if fresh:
        db.session.execute(insert(table), {"run_id": run_id, "position": position, **values})
        return
    result = db.session.execute(
        update(WorkflowStep)
        .where(WorkflowStep.run_id == run_id, WorkflowStep.position == position)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        db.session.execute(insert(table), {"run_id": run_id, "position": position, **values})


def _mirror(step: WorkflowStep, d: Delivery | None) -> dict[str, Any]:
    """Return a recorded step's status, following its Delivery row when it has one."""
    status, reason, at = step.status, step.reason, step.at
    if d is not None and status == "pending":
        if d.status == "sent":
            status, at = "sent", d.sent_at or at
        elif d.status == "dead":
            status, reason = "dead", d.last_error
        elif d.attempts:
            status, reason = "failed", d.last_error
        elif d.digest:
            reason = f"in the {d.digest} digest"
    return {"status": status, "reason": reason, "at": iso(at)}


def run_steps(run: WorkflowRun) -> list[dict[str, Any]]:
    """Return every step of ``run``: recorded ones as they stand, later ones ``pending``."""
    recorded = {
        s.position: s
        for s in db.session.scalars(select(WorkflowStep).where(WorkflowStep.run_id == run.id))
    }
    ids = [s.delivery_id for s in recorded.values() if s.delivery_id is not None]
    rows = (
        {d.id: d for d in db.session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
        if ids
        else {}
    )
    out = []
    for i, step in enumerate(run.steps or []):
        item: dict[str, Any] = {"step": i, "channel": step.get("channel")}
        if "wait" in step:
            item.update(wait=step["wait"], unless=step.get("unless"))
        got = recorded.get(i)
        if got is None:
            item.update(status="pending", reason=None, at=None)
        else:
            item.update(_mirror(got, rows.get(got.delivery_id) if got.delivery_id else None))
        out.append(item)
    return out


def _plain_steps(n: Notification) -> list[dict[str, Any]]:
    """Return a notification without a workflow as steps: its inbox row, then its deliveries."""
    out: list[dict[str, Any]] = [
        {"step": 0, "channel": "in_app", "status": "sent", "reason": None, "at": iso(n.created_at)}
    ]
    for d in db.session.scalars(
        select(Delivery)
        .where(Delivery.notification_id == n.id, Delivery.user_id == n.user_id)
        .order_by(Delivery.id)
    ):
        if d.status == "sent":
            status, at = "sent", d.sent_at or d.created_at
        else:
            status = "dead" if d.status == "dead" else ("failed" if d.attempts else "pending")
            at = d.created_at
        out.append(
            {
                "step": len(out),
                "channel": d.channel,
                "status": status,
                "reason": d.last_error,
                "at": iso(at),
            }
        )
    return out


def deliveries(viewer: User, notification_id: int) -> list[dict[str, Any]]:
    """Return the steps of a notification for its owner or an admin of its tenant; else 404."""
    n = db.session.get(Notification, notification_id)
    if n is None or n.deleted_at is not None:
        raise NotFound("notification not found")
    mine = n.user_id == viewer.id
    if not mine and not (viewer.is_admin and n.tenant_id == viewer.tenant_id):
        raise NotFound("notification not found")
    run = db.session.scalar(
        select(WorkflowRun)
        .where(WorkflowRun.notification_id == n.id, WorkflowRun.user_id == n.user_id)
        .order_by(WorkflowRun.id)
        .limit(1)
    )
    return run_steps(run) if run is not None else _plain_steps(n)


def recent_runs(workflow_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Return a workflow's newest runs with their recipient and step statuses (admin screen)."""
    runs = list(
        db.session.scalars(
            select(WorkflowRun)
            .where(WorkflowRun.workflow_id == workflow_id)
            .order_by(WorkflowRun.id.desc())
            .limit(limit)
        )
    )
    ids = {r.user_id for r in runs}
    emails = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
    return [
        {
            "id": r.id,
            "user": emails.get(r.user_id, str(r.user_id)),
            "notification_id": r.notification_id,
            "status": r.status,
            "created_at": iso(r.created_at),
            "steps": run_steps(r),
        }
        for r in runs
    ]
