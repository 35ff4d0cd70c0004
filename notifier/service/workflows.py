"""Workflows per notification type (CONTRACT §10): store, read and remove a tenant's steps.

A workflow is the ordered steps one publish of its type runs per recipient: ``{channel}``
sends on a channel, ``{wait, unless?}`` pauses and may end the run when the item was read or
seen in time, or the user is connected. The runner (:mod:`.workflow_runs`) executes them;
this module owns the shape, the durations and the admin's view of it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from notifier.channels import REGISTRY
from notifier.extensions import db
from notifier.models import utcnow
from notifier.models_flows import Workflow
from notifier.service.errors import NotFound, ValidationError
from notifier.service.serialize import iso

#: The channels a step may name: the per-user ones (webhooks and chat post per tenant).
STEP_CHANNELS = tuple(n for n, s in REGISTRY.items() if s.per_user and not s.tenant_posts)
UNLESS = ("read", "seen", "connected")
MAX_STEPS = 20
MAX_WAIT = timedelta(days=30)
MAX_THROTTLE = 100_000
# ISO 8601 durations, bounded in the pattern itself (above zero, at most 30 days), so the
# OpenAPI document states the whole rule: one unit up to its 30-day value (P4W, P30D, PT720H,
# PT43200M, PT2592000S) or a combination below a day per unit (P2DT3H30M: days 1-29, hours
# 1-23, minutes and seconds 1-59). Years and months have no fixed length: refused. No
# look-arounds: the same pattern runs in pydantic (Rust) and in the document's readers.
_D = "(?:[1-9]|[12][0-9])"
_H = "(?:[1-9]|1[0-9]|2[0-3])"
_MS = "(?:[1-9]|[1-5][0-9])"
_TIME = rf"(?:{_H}H(?:{_MS}M)?(?:{_MS}S)?|{_MS}M(?:{_MS}S)?|{_MS}S)"
_ONE = (
    "(?:[1-4]W|30D|T(?:[1-9][0-9]?|[1-6][0-9]{2}|7[01][0-9]|720)H"
    "|T(?:[1-9][0-9]{0,3}|[1-3][0-9]{4}|4[0-2][0-9]{3}|43[01][0-9]{2}|43200)M"
    "|T(?:[1-9][0-9]{0,5}|1[0-9]{6}|2[0-4][0-9]{5}|25[0-8][0-9]{4}|259[01][0-9]{3}|2592000)S)"
)
DURATION_PATTERN = rf"^P(?:{_ONE}|{_D}D(?:T{_TIME})?|T{_TIME})$"
DURATION = re.compile(DURATION_PATTERN)
DURATION_RULE = (
    "an ISO 8601 duration above zero and at most 30 days: one unit (PT10M, PT90M, PT1H, P1D, "
    "P2W) or days, hours, minutes and seconds below their next unit (P1DT12H, PT1H30M)"
)
_UNITS = re.compile("([0-9]+)([WDHMS])")
TYPE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")


def parse_duration(text: Any) -> timedelta:
    """Return an ISO 8601 duration (PnW, PnDTnHnMnS) as a timedelta; ValueError otherwise."""
    if not isinstance(text, str) or "\n" in text or not DURATION.match(text):
        raise ValueError(DURATION_RULE)
    days, time = text[1:].partition("T")[::2]
    parts = {u: int(n) for n, u in _UNITS.findall(days)}
    parts |= {u.lower(): int(n) for n, u in _UNITS.findall(time)}
    return timedelta(
        weeks=parts.get("W", 0),
        days=parts.get("D", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def bounded_duration(text: Any) -> bool:
    """Return True for a duration above zero and at most MAX_WAIT (30 days)."""
    return timedelta(0) < parse_duration(text) <= MAX_WAIT


def check_type(ntype: str) -> str:
    """Return ``ntype`` when it is a valid type name, else 422 naming ``type``."""
    if not TYPE.match(ntype):
        raise ValidationError("invalid type", fields={"type": "must match ^[A-Za-z0-9_.:-]{1,64}$"})
    return ntype


def step_errors(steps: list[dict[str, Any]]) -> dict[str, str]:
    """Return {field: message} for steps that break a rule (services call it, not only the API).

    A step is exactly ``{channel}`` or ``{wait, unless?}``: keys, not values, decide (a
    ``null`` is a wrong value, not a missing key), as the document's ``oneOf`` says.
    """
    if not steps:
        return {"steps": "at least 1 items"}
    if len(steps) > MAX_STEPS:
        return {"steps": f"at most {MAX_STEPS} items"}
    for i, step in enumerate(steps, 1):
        if ("channel" in step) == ("wait" in step):
            return {"steps": f"step {i}: give either channel or wait"}
        if "channel" in step and step["channel"] not in STEP_CHANNELS:
            return {"steps.channel": f"step {i}: must be one of {', '.join(STEP_CHANNELS)}"}
        if "wait" in step and not (isinstance(step["wait"], str) and DURATION.match(step["wait"])):
            return {"steps.wait": f"step {i}: {DURATION_RULE}"}
        if "unless" in step and "wait" not in step:
            return {"steps.unless": f"step {i}: only a wait step has unless"}
        if "unless" in step and step["unless"] not in UNLESS:
            return {"steps.unless": f"step {i}: must be one of {', '.join(UNLESS)}"}
    return {}


def _clean_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in steps:
        if "channel" in s:
            out.append({"channel": s["channel"]})
        else:
            out.append({"wait": s["wait"], **({"unless": s["unless"]} if s.get("unless") else {})})
    return out


def workflow_dict(wf: Workflow) -> dict[str, Any]:
    """Return a workflow as the API answers it."""
    return {
        "type": wf.type,
        "steps": wf.steps,
        "throttle": wf.throttle,
        "optimize_send_time": bool(wf.optimize_send_time),
        "created_at": iso(wf.created_at),
        "updated_at": iso(wf.updated_at),
    }


def find(tenant_id: int, ntype: str) -> Workflow | None:
    """Return the tenant's workflow of ``ntype``, or None (publishes then fan out at once)."""
    return db.session.scalar(
        select(Workflow).where(Workflow.tenant_id == tenant_id, Workflow.type == ntype)
    )


def get(tenant_id: int, ntype: str) -> Workflow:
    """Return the tenant's workflow of ``ntype`` or raise NotFound."""
    wf = find(tenant_id, ntype)
    if wf is None:
        raise NotFound("no workflow for this type")
    return wf


def listing(tenant_id: int) -> list[Workflow]:
    """Return the tenant's workflows by type."""
    return list(
        db.session.scalars(
            select(Workflow).where(Workflow.tenant_id == tenant_id).order_by(Workflow.type)
        )
    )


def put(
    tenant_id: int,
    ntype: str,
    steps: list[dict[str, Any]],
    throttle: dict[str, Any] | None,
    optimize_send_time: bool,
) -> tuple[Workflow, bool]:
    """Create or replace the workflow of ``ntype``; return it and whether it is new.

    Runs already started keep the steps they started with (the run holds a copy).
    """
    check_type(ntype)
    errors = step_errors(steps)
    if throttle is not None:
        try:
            if not bounded_duration(throttle.get("per")):
                errors["throttle.per"] = "above zero and at most 30 days (P30D)"
        except ValueError as exc:
            errors["throttle.per"] = str(exc)
        limit = throttle.get("limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_THROTTLE:
            errors["throttle.limit"] = f"an integer from 1 to {MAX_THROTTLE}"
    if errors:
        raise ValidationError("invalid workflow", fields=errors)
    wf = find(tenant_id, ntype)
    created = wf is None
    if wf is None:
        wf = Workflow(tenant_id=tenant_id, type=ntype, created_at=utcnow())
        db.session.add(wf)
    wf.steps = _clean_steps(steps)
    wf.throttle = {"limit": throttle["limit"], "per": throttle["per"]} if throttle else None
    wf.optimize_send_time = optimize_send_time
    wf.updated_at = utcnow()
    db.session.commit()
    return wf, created


def remove(tenant_id: int, ntype: str) -> None:
    """Delete the workflow of ``ntype`` (404 when none); its running runs go on to the end."""
    wf = get(tenant_id, ntype)
    db.session.execute(delete(Workflow).where(Workflow.id == wf.id))
    db.session.commit()
