""" "Why am I seeing this?": the rule path that let a notification through, kept when planned.

The path is stored on the notification (``Notification.decision``) at the moment it is
planned rather than recomputed when asked: a preference changed since would otherwise
explain today's rules, not the ones that decided. Each step is a small dict::

    {"rule": "mandatory" | "channel" | "type_channel" | "quiet_hours" | "digest" | "urgent"
             | "unavailable",
     "channel": "in_app" | "email" | ..., "allowed": bool, "source": "you" | "default", ...}

``unavailable`` is an external channel the preferences allowed but this server could not use
(not configured, no phone number, no push subscription): ``reason`` says which.

A notification sent by a workflow also has the run's steps (``workflow_path``): those are read
when asked, since a run goes on after the item was planned (a wait ends, an email is skipped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from notifier.extensions import db
from notifier.models import Notification
from notifier.models_flows import WorkflowRun
from notifier.service.preferences import DEFAULTS, digest_mode, mandatory_types
from notifier.service.serialize import iso
from notifier.service.workflow_steps import run_steps

EXTERNAL = ("email", "push", "sms")


def decide(
    pref: dict[str, Any],
    ntype: str,
    priority: str,
    allowed: dict[str, bool],
    quiet: datetime | None,
    unavailable: dict[str, str | None] | None = None,
) -> list[dict[str, Any]]:
    """Return the steps that decided each wanted channel for one recipient."""
    steps: list[dict[str, Any]] = []
    for ch, ok in allowed.items():
        steps.extend(_channel_steps(pref, ntype, ch, ok))
        reason = (unavailable or {}).get(ch)
        if ch in EXTERNAL and ok and reason:
            steps.append({"rule": "unavailable", "channel": ch, "allowed": False, "reason": reason})
        elif ch in EXTERNAL and ok:
            if priority == "urgent" and pref["quiet_hours"].get("enabled"):
                steps.append({"rule": "urgent", "channel": ch, "allowed": True})
            elif quiet is not None:
                steps.append(
                    {"rule": "quiet_hours", "channel": ch, "allowed": True, "until": iso(quiet)}
                )
            if ch == "email" and (mode := digest_mode(pref, ntype)) != "off":
                steps.append({"rule": "digest", "channel": ch, "allowed": True, "mode": mode})
    return steps


def _channel_steps(pref: dict[str, Any], ntype: str, ch: str, ok: bool) -> list[dict[str, Any]]:
    if ch == "in_app" and ntype in mandatory_types():
        return [{"rule": "mandatory", "channel": ch, "allowed": True}]
    on = bool(pref["channels"].get(ch, False))
    default_on = bool(DEFAULTS["channels"].get(ch, False))
    steps: list[dict[str, Any]] = [
        {"rule": "channel", "channel": ch, "allowed": on, "source": _source(on, default_on)}
    ]
    if on:
        explicit = pref["types"].get(ntype, {}).get(ch)
        steps.append(
            {
                "rule": "type_channel",
                "channel": ch,
                "allowed": ok,
                "source": "default" if explicit is None else "you",
            }
        )
    return steps


def _source(value: bool, default: bool) -> str:
    # A stored switch equal to the default cannot be told apart from none: say "default".
    return "default" if value == default else "you"


def workflow_path(n: Notification) -> list[dict[str, Any]]:
    """Return the steps of the workflow run that sent ``n`` as they stand; [] without a run."""
    run = db.session.scalar(
        select(WorkflowRun)
        .where(WorkflowRun.notification_id == n.id, WorkflowRun.user_id == n.user_id)
        .order_by(WorkflowRun.id)
        .limit(1)
    )
    return run_steps(run) if run is not None else []
