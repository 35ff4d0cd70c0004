"""Database models of what shapes a notification: templates, workflows and their runs, activity.

CONTRACT §10. A template renders a type's text per channel and locale (with weighted variants
for experiments); a workflow orders a type's channels with waits between them, and each
publish of that type starts one durable run per recipient whose steps are recorded as they
happen; ``activity_hours`` is the per-user histogram send-time optimisation learns from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from notifier.models import BigId, Model, utcnow


class Template(Model):
    """The text of one notification type on one channel in one locale (Jinja, sandboxed)."""

    __tablename__ = "templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    locale: Mapped[str] = mapped_column(String(10), default="en")
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    # [{name, weight, title?, body?, subject?}]: an experiment's arms (CONTRACT §10).
    variants: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "type", "channel", "locale", name="uq_templates_key"),
    )


class Workflow(Model):
    """A notification type's ordered steps: channels, and waits that may end the run."""

    __tablename__ = "workflows"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    # [{channel}] | [{wait: "PT10M", unless?: read|seen|connected}] in order.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    throttle: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {limit, per: "PT1H"}
    optimize_send_time: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("tenant_id", "type", name="uq_workflows_type"),)


class WorkflowRun(Model):
    """One recipient's pass through a workflow: the next step and when it is due.

    Claimed like a delivery (``locked_until``), so a restart in the middle of a wait resumes
    it and two workers never run the same step.
    """

    __tablename__ = "workflow_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    notification_id: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    # The steps as they were when the run started: editing a workflow changes later runs only.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)  # the next step to run
    # running → done | cancelled
    status: Mapped[str] = mapped_column(String(10), default="running")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_workflow_runs_due", "status", "due_at"),
        Index("ix_workflow_runs_notification", "notification_id"),
        Index("ix_workflow_runs_workflow", "workflow_id", "id"),
    )


class WorkflowStep(Model):
    """What one step of a run did: sent, skipped, throttled, waiting, failed, dead…"""

    __tablename__ = "workflow_steps"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # channel | wait
    channel: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(200))
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_workflow_steps_run", "run_id", "position"),)


class ActivityHour(Model):
    """How often a user read, clicked or connected in one UTC hour of one day.

    Bounded: at most 24 rows per user per day, 30 days kept. The active-hours model decays
    these by age and folds them into the user's local 24 hours.
    """

    __tablename__ = "activity_hours"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0-23, UTC
    reads: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    connects: Mapped[int] = mapped_column(Integer, default=0)
