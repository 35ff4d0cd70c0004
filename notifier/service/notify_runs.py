"""Plan a workflow run: a recipient's external channels become one run row, not deliveries.

plan() calls :func:`plan_run` per recipient when the type has a workflow; the runner
(:mod:`.workflow_runs`) then sends the steps one by one. Pure, like plan(): it reads only
its arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from notifier.channels import REGISTRY
from notifier.models_flows import Workflow
from notifier.service.notify_text import payload_for
from notifier.service.recipients import Recipient, unreachable


def plan_run(
    r: Recipient,
    allowed: dict[str, bool],
    cfg: Mapping[str, Any],
    flow: Workflow,
    fields: dict[str, Any],
    text: dict[str, dict[str, str]],
    *,
    tenant_id: int,
    now: datetime,
    channels: dict[str, bool],
    errors: dict[str, str],
) -> dict[str, Any] | None:
    """Return r's workflow run row (None: nothing to run); answer in channels/errors as
    deliveries would.

    The run holds a copy of the steps and each channel's payload (its rendered ``text``),
    so editing the workflow later changes only later runs; preferences are checked again
    when a step runs.
    """
    steps = list(dict.fromkeys(s["channel"] for s in flow.steps if s.get("channel")))
    if not any(ch in allowed for ch in steps):
        return None  # The publish names none of the workflow's channels: nothing to run.
    for ch in allowed:
        if ch != "in_app" and ch not in steps and not REGISTRY[ch].tenant_posts:
            errors.setdefault(ch, "not a step of this type's workflow")
    for ch in steps:
        if ch == "in_app" or ch not in allowed:
            continue
        problem = None if allowed[ch] else "disabled by preferences"
        problem = problem or unreachable(ch, cfg, r)
        if problem:
            errors.setdefault(ch, problem)
        else:
            channels[ch] = True
    payload = {
        "content": {ch: payload_for(fields, ch, text) for ch in steps if ch != "in_app"},
        "wanted": list(allowed),
        "throttle": flow.throttle,
        "optimize": bool(flow.optimize_send_time),
    }
    return {
        "tenant_id": tenant_id,
        "workflow_id": flow.id,
        "user_id": r.id,
        "notification_id": None,
        "type": flow.type,
        "steps": flow.steps,
        "position": 0,
        "status": "running",
        "payload": payload,
        "due_at": now,
        "created_at": now,
    }
