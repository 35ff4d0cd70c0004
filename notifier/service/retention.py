"""Per-tenant notification retention: the tenant setting and the prune the worker loop runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from notifier.extensions import db
from notifier.models import Delivery, Notification, Tenant, utcnow
from notifier.service.errors import ValidationError
from notifier.service.privacy import cascade, delete_cascading

MAX_RETENTION_DAYS = 36500


def tenant_dict(tenant: Tenant) -> dict[str, Any]:
    """Serialize a tenant's privacy settings as GET /api/v1/tenant returns them."""
    return {"id": tenant.id, "name": tenant.name, "retention_days": tenant.retention_days}


def set_retention(tenant: Tenant, value: Any) -> Tenant:
    """Set how many days the tenant's notifications are kept (None: forever); 422 when bad."""
    if value is not None and (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 1 <= value <= MAX_RETENTION_DAYS
    ):
        raise ValidationError(
            "invalid retention",
            fields={"retention_days": f"null or an integer from 1 to {MAX_RETENTION_DAYS}"},
        )
    tenant.retention_days = value
    db.session.commit()
    return tenant


PRUNE_BATCH = 1000


def prune_notifications() -> int:
    """Delete notifications older than their tenant's ``retention_days``; return how many.

    Rows that point at them by foreign key go too, and so do their finished deliveries (the
    payload holds the notification's content). Batches of PRUNE_BATCH, one commit each.
    """
    removed = 0
    tenants = db.session.execute(
        select(Tenant.id, Tenant.retention_days).where(Tenant.retention_days.is_not(None))
    ).all()
    for tenant_id, days in tenants:
        cutoff = utcnow() - timedelta(days=int(days or 0))
        while True:
            ids = list(
                db.session.scalars(
                    select(Notification.id)
                    .where(Notification.tenant_id == tenant_id, Notification.created_at < cutoff)
                    .order_by(Notification.id)
                    .limit(PRUNE_BATCH)
                )
            )
            if not ids:
                break
            db.session.execute(
                delete(Delivery).where(
                    Delivery.notification_id.in_(ids), Delivery.status != "pending"
                )
            )
            delete_cascading(cascade({"notifications": Notification.id.in_(ids)}))
            db.session.commit()
            removed += len(ids)
    return removed
