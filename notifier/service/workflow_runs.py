"""Run workflow runs: claim a due run under a lease, advance it, record every step.

A run is claimed like a delivery (:mod:`.workflow_claim`): a conditional UPDATE sets
``locked_until = now + LEASE`` and commits, so exactly one worker holds it. Advancing it then
happens in ONE transaction that ends with ``UPDATE workflow_runs … WHERE locked_until =
<this claim's lease>``: a worker whose lease ran out (another took the run over) finds no
row, rolls back, and its Delivery rows and step records vanish with it. So a step is done
once, and a process killed in the middle of a wait loses nothing: the wait is the run's
``due_at``, committed before the process slept.

Steps run in order until a wait (``due_at`` moves to its end) or the end of the run:

* ``{channel: in_app}`` records ``sent``: the inbox row was written at publish.
* another channel checks the user's preferences and reachability now (``skipped`` with the
  reason), the workflow's throttle (``throttled``) and, for ``optimize_send_time``, the user's
  best hour within 12 h (the step waits for it); then it inserts one Delivery row, which the
  delivery pool sends with its retries, digests and quiet hours, and whose status the step
  mirrors when read (:mod:`.workflow_steps`).
* ``{wait, unless}`` waits; when it ends, ``unless`` is checked: the notification's
  ``read_at`` / ``seen_at``, or whether the user has a live stream on any process (the bus's
  presence). When true the run ends and the remaining steps are recorded ``skipped``.

Reading an item does not touch its run: the check happens when the wait ends, from the
notification row itself (the one source of truth), so the read paths stay one UPDATE and a
read-all over thousands of items costs the runner nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, func, insert, select, update

from notifier.extensions import db, state
from notifier.models import Delivery, Notification, User, utcnow
from notifier.models_flows import WorkflowRun, WorkflowStep
from notifier.service import active_hours, recipients
from notifier.service.failures import MAX_REASON, describe
from notifier.service.preferences import (
    channel_allowed,
    digest_mode,
    mandatory_types,
    quiet_until,
)
from notifier.service.serialize import iso
from notifier.service.workflow_claim import BATCH, claim
from notifier.service.workflow_steps import record
from notifier.service.workflows import parse_duration

log = logging.getLogger("notifier.workflows")

BEST_TIME_WITHIN = timedelta(hours=12)
_MET = {"read": "read in time", "seen": "seen in time", "connected": "connected"}


def tick(limit: int = 1000) -> int:
    """Claim and advance up to ``limit`` due runs, a batch at a time; return how many."""
    handled = 0
    while handled < limit:
        claimed = claim(utcnow(), min(BATCH, limit - handled))
        if claimed is None:
            break
        ids, token = claimed
        for run_id in ids:
            try:
                advance(run_id, token, utcnow())
            except Exception as exc:  # one bad run never stalls the others (CONTRACT §8)
                db.session.rollback()
                log.exception("workflow run %s: unexpected error; set aside", run_id)
                _set_aside(run_id, token, f"unexpected {describe(exc)}")
        handled += len(ids)
    return handled


def advance(run_id: int, token: datetime, now: datetime) -> bool:
    """Run the claimed run's steps up to the next wait; commit. False: the lease was lost."""
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run is None or run.locked_until != token or run.status != "running":
        db.session.rollback()
        return False
    steps, pos = list(run.steps), run.position
    st: dict[str, Any] = dict(run.payload or {})
    status, due = "running", run.due_at
    waiting = st.pop("waiting", None)
    met = _unless_met(run, steps[waiting].get("unless")) if waiting is not None else None
    if waiting is not None:
        record(run.id, waiting, "wait", None, "sent", met or "waited", now)
    if met is not None:
        for i in range(pos, len(steps)):
            step = steps[i]
            record(run.id, i, _kind(step), step.get("channel"), "skipped", met, now, fresh=True)
        pos, status = len(steps), "done"
    deferred = st.pop("deferred", None)
    ctx = _Step(run, st, now)
    while status == "running":
        if pos >= len(steps):
            status = "done"
            break
        step = steps[pos]
        if "wait" in step:
            due = now + parse_duration(step["wait"])
            record(run.id, pos, "wait", None, "pending", f"until {iso(due)}", now, fresh=True)
            st["waiting"], pos = pos, pos + 1
            break
        later = ctx.channel(pos, step["channel"], deferred == pos)
        if later is not None:  # waits for the user's best hour; the step runs again then
            st["deferred"], due = pos, later
            break
        pos += 1
    return _save(run.id, token, pos, status, st, due, now)


def _kind(step: dict[str, Any]) -> str:
    return "wait" if "wait" in step else "channel"


def _unless_met(run: WorkflowRun, unless: str | None) -> str | None:
    """Return why the run ends after its wait (read in time…), or None to go on."""
    if unless is None:
        return None
    if unless == "connected":
        return _MET[unless] if state(current_app).broker.online(run.user_id) else None
    if run.notification_id is None:
        return None  # no inbox row (in_app off): it cannot have been read
    n = db.session.get(Notification, run.notification_id, populate_existing=True)
    if n is None or n.deleted_at is not None:
        return "deleted in time"  # the user dismissed it: no reminder for what is gone
    at = n.read_at if unless == "read" else (n.seen_at or n.read_at)
    return _MET[unless] if at is not None else None


class _Step:
    """What a channel step needs of its run, loaded once per advance and only if needed."""

    def __init__(self, run: WorkflowRun, st: dict[str, Any], now: datetime) -> None:
        self.run, self.st, self.now = run, st, now
        self._recipient: recipients.Recipient | None | bool = False

    def recipient(self) -> recipients.Recipient | None:
        if self._recipient is False:
            found = recipients.load(self.run.tenant_id, [self.run.user_id]).recipients
            self._recipient = found[0] if found else None
        return cast("recipients.Recipient | None", self._recipient)

    def channel(self, pos: int, ch: str, deferred: bool) -> datetime | None:
        """Run one channel step and record it; return a later time to run it at instead."""
        run, now = self.run, self.now

        def note(status: str, reason: str | None, at: datetime = now, **kw: Any) -> None:
            # A deferred step already has its row ("pending", best send time); others none.
            record(run.id, pos, "channel", ch, status, reason, at, fresh=not deferred, **kw)

        if ch == "in_app":
            ok = run.notification_id is not None
            reason = None if ok else "disabled by preferences"
            note("sent" if ok else "skipped", reason, run.created_at)
            return None
        r = self.recipient()
        problem = None if ch in self.st.get("wanted", ()) else "not requested by the publish"
        if problem is None and r is None:
            problem = "the recipient no longer exists"
        if problem is None and r is not None:
            if not channel_allowed(r.prefs, run.type, ch, mandatory_types()):
                problem = "disabled by preferences"
            else:
                problem = recipients.unreachable(ch, current_app.config, r)
        if problem is not None or r is None:
            note("skipped", problem)
            return None
        limit = self._throttled()
        if limit:
            note("throttled", limit)
            return None
        content = self.st.get("content", {}).get(ch) or {}
        urgent = content.get("priority") == "urgent"
        if self.st.get("optimize") and not urgent and not deferred:
            zone = db.session.scalar(select(User.timezone).where(User.id == run.user_id))
            best = active_hours.best_send_time(run.user_id, zone or "UTC", now, BEST_TIME_WITHIN)
            if best is not None and best > now:
                note("pending", f"best send time {iso(best)}")
                return best
        quiet = None if urgent else quiet_until(r.prefs, now)
        digest = digest_mode(r.prefs, run.type) if ch == "email" else "off"
        table = cast(Table, Delivery.__table__)
        delivery_id = db.session.execute(
            insert(table).returning(table.c.id),
            {
                "tenant_id": run.tenant_id,
                "user_id": run.user_id,
                "notification_id": run.notification_id,
                "channel": ch,
                "status": "pending",
                "payload": content,
                "digest": None if digest == "off" else digest,
                "due_at": quiet or now,
                "created_at": now,
                "attempts": 0,
            },
        ).scalar_one()
        note("pending", None, delivery_id=int(delivery_id))
        return None

    def _throttled(self) -> str | None:
        """Return why the throttle holds this send back, or None.

        The throttle counts the other runs of this user and type that made an external send
        within ``per``: ``limit`` of them, and this run's sends are held back.
        """
        throttle = self.st.get("throttle")
        if not throttle:
            return None
        since = self.now - parse_duration(throttle["per"])
        sent = db.session.scalar(
            select(func.count(func.distinct(WorkflowStep.run_id)))
            .join(WorkflowRun, WorkflowRun.id == WorkflowStep.run_id)
            .where(
                WorkflowRun.user_id == self.run.user_id,
                WorkflowRun.type == self.run.type,
                WorkflowRun.id != self.run.id,
                WorkflowStep.delivery_id.is_not(None),
                WorkflowStep.at >= since,
            )
        )
        if int(sent or 0) >= int(throttle["limit"]):
            return f"more than {throttle['limit']} per {throttle['per']}"
        return None


def _save(
    run_id: int,
    token: datetime,
    pos: int,
    status: str,
    st: dict[str, Any],
    due: datetime,
    now: datetime,
) -> bool:
    """Write the run's new position where the lease is still ours, and commit; else undo."""
    result = db.session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run_id, WorkflowRun.locked_until == token)
        .values(
            position=pos,
            status=status,
            payload=st,
            due_at=due,
            locked_until=None,
            finished_at=now if status != "running" else None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()  # another worker took the run over: its steps stand, not ours
        log.warning("workflow run %s: lease lost; this worker's steps were undone", run_id)
        return False
    db.session.commit()
    return True


def _set_aside(run_id: int, token: datetime, reason: str) -> None:
    """End a run that cannot be advanced (status ``failed``), recording why on its next step."""
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run is None or run.locked_until != token:
        db.session.rollback()
        return
    if run.position < len(run.steps or []):
        step = run.steps[run.position]
        record(run.id, run.position, _kind(step), step.get("channel"), "failed", reason, utcnow())
    run.status, run.locked_until, run.finished_at = "failed", None, utcnow()
    run.payload = {**(run.payload or {}), "error": reason[:MAX_REASON]}
    db.session.commit()
