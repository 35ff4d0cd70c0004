"""Send a notification now: plan() the fan-out, store() it in one transaction, publish() it.

``plan()`` (:mod:`.notify_plan`) is pure (recipients × preferences × channels → rows and a
result); ``store()`` writes those rows with a handful of batched Core statements and commits;
``publish()`` hands the committed events to the bus. A ``send_at`` in the future is
:mod:`.schedule`'s job: the API calls ``schedule()`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, insert

from notifier.bus.base import Item, Message
from notifier.extensions import core, db
from notifier.models import Delivery, Notification, utcnow
from notifier.models_flows import WorkflowRun
from notifier.service import events, fanout_store, integrations, templates, workflows
from notifier.service.notify_plan import DEFAULT_CHANNELS, BeforeCommit, NotifyResult, Plan, plan
from notifier.service.notify_text import event_fields
from notifier.service.preferences import mandatory_types
from notifier.service.recipients import Audience, load, resolve_recipients, webhooks
from notifier.service.serialize import notification_payload

CHUNK = 1000
#: How many ids a webhook payload lists (it always says how many there were).
WEBHOOK_IDS = 1000

__all__ = ["NotifyResult", "Plan", "notify", "plan", "publish", "resolve_recipients", "store"]


def notify(
    tenant_id: int,
    content: dict[str, Any],
    recipients: Sequence[int] | Audience,
    *,
    sender_id: int | None,
    before_commit: BeforeCommit | None = None,
) -> NotifyResult:
    """Deliver already-validated content to recipients of one tenant now; commit, then publish.

    ``recipients`` are user ids, or the :class:`Audience` the API already loaded with
    :func:`~notifier.service.recipients.audience`. ``before_commit(result)`` runs inside the
    transaction right before its commit: the API stores its idempotent answer there, so the
    answer commits with the notification.
    """
    if content.get("send_at") and content["send_at"] > utcnow():
        raise ValueError("a future send_at goes to schedule(), not notify()")
    group = recipients if isinstance(recipients, Audience) else load(tenant_id, recipients)
    wanted = content.get("channels") or DEFAULT_CHANNELS
    hooks = webhooks(group) if "webhook" in wanted else []
    # None without a template; a tenant known to have none costs no query.
    rendering = (
        None if group.has_templates is False else templates.prepare(tenant_id, content, group.ids)
    )
    planned = plan(
        content,
        group,
        hooks,
        cfg=current_app.config,
        now=utcnow(),
        mandatory=mandatory_types(),
        rendering=rendering,
        # No lookup for a tenant the recipient query found without workflows.
        flow=None if group.has_workflows is False else workflows.find(tenant_id, content["type"]),
    )
    publish(store(planned, before_commit))
    return planned.result


def store(planned: Plan, before_commit: BeforeCommit | None = None) -> list[Item]:
    """Write the plan in one transaction and commit; return the events to publish.

    A uniform fan-out (two or more inbox rows that differ only in their user and "why"
    trail: no template) is written by :mod:`.fanout_store`, three statements whatever its
    size, and published as ONE :class:`~notifier.bus.base.Fanout`; anything else gets one
    row of parameters per recipient and one Message per user.
    """
    result = planned.result
    messages: list[Item]
    if fanout_store.uniform(planned.inbox):
        ids, fanout = fanout_store.store(
            planned.inbox, planned.tenant_id, planned.fields, planned.now
        )
        messages = [fanout]
    else:
        ids = _insert_inbox(planned.inbox, planned.now)
        messages = list(_append_events(planned, ids))
    result.ids = ids
    # Deliveries point at the inbox row (push tags and digests dedupe on it) when there is one.
    nid_of = {row["user_id"]: nid for row, nid in zip(planned.inbox, ids, strict=True)}
    for d in planned.deliveries:
        d["notification_id"] = nid_of.get(d["user_id"])
    for run in planned.runs:
        run["notification_id"] = nid_of.get(run["user_id"])
    for h in planned.hooks:
        h["payload"] = {
            **planned.fields,
            "notification_ids": ids[:WEBHOOK_IDS],
            "recipient_ids": planned.recipients[:WEBHOOK_IDS],
            "recipients": len(planned.recipients),
        }
    if len(planned.recipients) == 1 and isinstance(messages[0] if messages else None, Message):
        result.notifications = [cast(Message, messages[0]).data]
    rows = planned.deliveries + planned.hooks
    for i in range(0, len(rows), CHUNK):
        core().execute(insert(cast(Table, Delivery.__table__)), rows[i : i + CHUNK])
    for i in range(0, len(planned.runs), CHUNK):
        core().execute(insert(cast(Table, WorkflowRun.__table__)), planned.runs[i : i + CHUNK])
    if planned.chat_users is not None:  # chat was wanted: one post per matching integration
        integrations.queue(
            planned.tenant_id,
            planned.fields["type"],
            planned.chat_payload or dict(planned.fields),
            ids,
            planned.chat_users,
            planned.now,
            result,
            any_live=planned.has_chat,
        )
    if before_commit is not None:
        before_commit(result)
    db.session.commit()
    return messages


def _append_events(planned: Plan, ids: list[int]) -> list[Message]:
    """Log one event per inbox row (one Message per user)."""
    return events.append(
        [
            (
                row["user_id"],
                planned.tenant_id,
                "notification",
                notification_payload(
                    event_fields(planned.fields, row), id=nid, created_at=planned.now
                ),
            )
            for row, nid in zip(planned.inbox, ids, strict=True)
        ]
    )


def _insert_inbox(rows: list[dict[str, Any]], now: datetime) -> list[int]:
    """Insert the inbox rows with batched INSERT … RETURNING; return their ids in order."""
    ids: list[int] = []
    for i in range(0, len(rows), CHUNK):
        chunk = [{**row, "created_at": now} for row in rows[i : i + CHUNK]]
        ids.extend(int(r[0]) for r in core().execute(_INSERT_INBOX, chunk))
    return ids


_INBOX = cast(Table, Notification.__table__)
#: Built once: a reused statement keeps its memoized cache key (no rebuild, no re-hash).
_INSERT_INBOX = insert(_INBOX).returning(_INBOX.c.id, sort_by_parameter_order=True)


def publish(messages: Sequence[Item]) -> bool:
    """Hand committed events to the bus (a failure only delays them: streams replay the log)."""
    return events.publish(messages)
