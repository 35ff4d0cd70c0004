"""Erasure's JSON part: recipients named inside payloads rather than by a user column.

The metadata walk in service/privacy.py finds every row with a user column; these rows name
the user only inside JSON (a scheduled send's spec, a webhook delivery's recipient list).
"""

from __future__ import annotations

from sqlalchemy import select

from notifier.extensions import db
from notifier.models import Delivery, ScheduledNotification, User


def schedules(user: User) -> None:
    """Drop ``user`` from scheduled sends still waiting: their spec names recipients in JSON."""
    rows = db.session.scalars(
        select(ScheduledNotification).where(ScheduledNotification.status == "scheduled")
    ).all()
    for row in rows:
        spec = dict(row.spec or {})
        if spec.get("user_id") == user.id or (
            isinstance(spec.get("email"), str) and spec["email"].strip().lower() == user.email
        ):
            db.session.delete(row)
        elif isinstance(spec.get("user_ids"), list) and user.id in spec["user_ids"]:
            spec["user_ids"] = [i for i in spec["user_ids"] if i != user.id]
            if spec["user_ids"]:
                row.spec = spec
            else:
                db.session.delete(row)


def tenant_deliveries(user: User) -> None:
    """Drop ``user`` from the tenant-level deliveries (webhooks) that list them as a recipient.

    Those rows have no user_id: their payload names the recipients. A delivery for them alone
    goes; one for several keeps the others.
    """
    rows = db.session.scalars(
        select(Delivery).where(Delivery.tenant_id == user.tenant_id, Delivery.user_id.is_(None))
    ).all()
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        ids = payload.get("recipient_ids")
        if not isinstance(ids, list) or user.id not in ids:
            continue
        rest = [i for i in ids if i != user.id]
        if not rest:
            db.session.delete(row)
        else:
            count = payload.get("recipients")
            row.payload = {
                **payload,
                "recipient_ids": rest,
                "recipients": count - 1 if isinstance(count, int) else len(rest),
            }
