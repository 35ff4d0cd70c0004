"""Decide every row one notification writes: recipients × preferences × channels, no I/O.

:func:`plan` reads nothing but its arguments, so the fan-out's decisions (which channels,
quiet hours, digests, workflow runs, the "Why am I seeing this?" trail) are tested without a
database; :mod:`.notify` stores and publishes what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifier.channels import REGISTRY
from notifier.models_flows import Workflow
from notifier.service import why
from notifier.service.notify_runs import plan_run
from notifier.service.notify_text import apply_inbox_text, chat_payload, payload_for, render_for
from notifier.service.preferences import channel_allowed, digest_mode, quiet_until
from notifier.service.recipients import Audience, Recipient, Webhook, unreachable
from notifier.service.serialize import CONTENT_FIELDS
from notifier.service.template_render import Rendering

#: The channels a notification goes to when it names none: all of them.
DEFAULT_CHANNELS = tuple(REGISTRY)


@dataclass
class NotifyResult:
    """The seeds' per-channel result object plus what was created."""

    channels: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    recipients: int = 0
    scheduled_id: int | None = None

    @property
    def success(self) -> bool:
        """Return True when at least one channel took the notification."""
        return any(self.channels.values())

    def as_dict(self) -> dict[str, Any]:
        """Return ``{success, channels, errors}`` as the API answers it."""
        return {"success": self.success, "channels": self.channels, "errors": self.errors}


BeforeCommit = Callable[[NotifyResult], None]


@dataclass
class Plan:
    """What one notify() call writes: inbox rows, deliveries, and the answer so far.

    ``deliveries`` get their ``notification_id`` and ``hooks`` their id lists in store(),
    once the inbox rows have ids.
    """

    tenant_id: int
    now: datetime
    fields: dict[str, Any]
    recipients: list[int]
    inbox: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    # One workflow run per recipient when the type has a workflow (they replace deliveries).
    runs: list[dict[str, Any]] = field(default_factory=list)
    # Recipients whose preferences let chat carry it (None: chat not wanted); chat posts once
    # per tenant integration, not per recipient.
    chat_users: list[int] | None = None
    has_chat: bool | None = None
    # The chat post's fields when a chat template rendered them (None: ``fields``).
    chat_payload: dict[str, Any] | None = None
    result: NotifyResult = field(default_factory=NotifyResult)


def plan(
    content: Mapping[str, Any],
    group: Audience,
    hooks: Sequence[Webhook],
    *,
    cfg: Mapping[str, Any],
    now: datetime,
    mandatory: tuple[str, ...],
    rendering: Rendering | None = None,
    flow: Workflow | None = None,
) -> Plan:
    """Decide every row one notification writes, reading nothing but the arguments.

    With ``rendering`` (the type's templates), each recipient's inbox row and deliveries carry
    their channel's rendered text; a variable a template lacks raises ValidationError here,
    before anything is stored. With a workflow (``flow``) for the type, each recipient's
    external channels become one run row instead of deliveries: the runner sends them step
    by step.
    """
    wanted = list(content.get("channels") or DEFAULT_CHANNELS)
    fields = {k: content[k] for k in CONTENT_FIELDS}
    fields["group_key"] = content.get("group_key")
    if content.get("actions"):
        fields["actions"] = content["actions"]
    out = Plan(group.tenant_id, now, fields, group.ids, has_chat=group.has_chat)
    out.result = NotifyResult(channels=dict.fromkeys(wanted, False), recipients=len(group.ids))
    tags_text = "," + ",".join(content["tags"]) + "," if content["tags"] else ""
    per_user = [ch for ch in wanted if REGISTRY[ch].per_user]
    # Recipients without stored preferences share one prefs object (recipients.py), so
    # what follows from the prefs alone is decided once per object: a broadcast of 1,000
    # spent 6 % of its samples re-deciding the same "why" trail.
    allowed_of: dict[int, dict[str, bool]] = {}
    decision_of: dict[tuple[int, bool, bool], list[dict[str, Any]]] = {}
    for r in group.recipients:
        allowed = allowed_of.get(id(r.prefs))
        if allowed is None:
            allowed = allowed_of[id(r.prefs)] = {
                ch: channel_allowed(r.prefs, content["type"], ch, mandatory) for ch in per_user
            }
        if "chat" in allowed:
            out.chat_users = out.chat_users or []
            if allowed["chat"]:
                out.chat_users.append(r.id)
        text, variant = render_for(rendering, r.id, allowed)
        if allowed.get("in_app"):
            row = {k: fields[k] for k in CONTENT_FIELDS if k != "tags"}
            out.inbox.append(
                {
                    **row,
                    "tenant_id": group.tenant_id,
                    "user_id": r.id,
                    "tags_text": tags_text,
                    "group_key": fields["group_key"],
                    "actions": content.get("actions"),
                    "decision": _memo_decision(decision_of, r, content, allowed, cfg, now),
                }
            )
            if rendering is not None:
                apply_inbox_text(out.inbox[-1], text, variant)
        if flow is None:
            _plan_deliveries(out, r, allowed, cfg, content, text)
        else:
            run = plan_run(
                r,
                allowed,
                cfg,
                flow,
                out.fields,
                text,
                tenant_id=out.tenant_id,
                now=out.now,
                channels=out.result.channels,
                errors=out.result.errors,
            )
            if run is not None:
                out.runs.append(run)
    if "in_app" in wanted:
        if out.inbox:
            out.result.channels["in_app"] = True
        else:
            out.result.errors["in_app"] = "disabled by preferences"
    if "webhook" in wanted:
        _plan_webhooks(out, content["type"], hooks)
    if out.chat_users:
        out.chat_payload = chat_payload(rendering, out.fields)
    return out


def _plan_deliveries(
    out: Plan,
    r: Recipient,
    allowed: dict[str, bool],
    cfg: Mapping[str, Any],
    content: Mapping[str, Any],
    text: dict[str, dict[str, str]],
) -> None:
    """Add one Delivery row per external channel the recipient allows and can be reached on."""
    quiet = None if content["priority"] == "urgent" else quiet_until(r.prefs, out.now)
    for ch, ok in allowed.items():
        spec = REGISTRY[ch]
        if spec.build is None or spec.tenant_posts:  # in_app: the inbox row; chat: store()
            continue
        if not ok:
            out.result.errors.setdefault(ch, "disabled by preferences")
            continue
        problem = unreachable(ch, cfg, r)
        if problem:
            out.result.errors.setdefault(ch, problem)
            continue
        digest = digest_mode(r.prefs, content["type"]) if ch == "email" else "off"
        out.deliveries.append(
            _delivery(
                out,
                ch,
                user_id=r.id,
                payload=payload_for(out.fields, ch, text),
                due_at=quiet or out.now,
            )
            | {"digest": None if digest == "off" else digest}
        )
        out.result.channels[ch] = True


def _memo_decision(
    memo: dict[tuple[int, bool, bool], list[dict[str, Any]]],
    r: Recipient,
    content: Mapping[str, Any],
    allowed: dict[str, bool],
    cfg: Mapping[str, Any],
    now: datetime,
) -> list[dict[str, Any]]:
    """Return :func:`_decision`, shared by recipients of the same prefs and reachability."""
    key = (id(r.prefs), bool(r.phone), bool(r.push_subscriptions))
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = _decision(r, content, allowed, cfg, now)
    return hit


def _decision(
    r: Recipient,
    content: Mapping[str, Any],
    allowed: dict[str, bool],
    cfg: Mapping[str, Any],
    now: datetime,
) -> list[dict[str, Any]]:
    """Return the rule path that let this item into r's inbox ("Why am I seeing this?")."""
    quiet = None if content["priority"] == "urgent" else quiet_until(r.prefs, now)
    unavailable = {ch: unreachable(ch, cfg, r) for ch in allowed if ch != "in_app"}
    return why.decide(r.prefs, content["type"], content["priority"], allowed, quiet, unavailable)


def _delivery(
    out: Plan, ch: str, *, user_id: int | None, payload: dict[str, Any], due_at: datetime
) -> dict[str, Any]:
    return {
        "tenant_id": out.tenant_id,
        "user_id": user_id,
        "channel": ch,
        "status": "pending",
        "payload": payload,
        "digest": None,
        "due_at": due_at,
        "created_at": out.now,
        "attempts": 0,
        "webhook_id": None,
        "notification_id": None,
    }


def _plan_webhooks(out: Plan, ntype: str, hooks: Sequence[Webhook]) -> None:
    matching = [h for h in hooks if not h.types or ntype in h.types]
    for h in matching:
        out.hooks.append(
            _delivery(out, "webhook", user_id=None, payload=out.fields, due_at=out.now)
            | {"webhook_id": h.id}
        )
    out.result.channels["webhook"] = bool(matching)
    if not matching:
        out.result.errors["webhook"] = "no webhook endpoint for this type"
