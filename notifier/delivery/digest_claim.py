"""Group due digest rows by user, channel and window, and claim one group under a lease.

Hourly windows close on the hour for everyone; daily ones at DAILY_DIGEST_HOUR in each
recipient's time zone. A group is claimed through ``claim.claim_query``, so digest rows follow
the same lease and ownership rules as single deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, and_, select

from notifier.delivery.claim import LEASE, Claim, claim_query, claimable
from notifier.extensions import db
from notifier.models import Delivery, User

MAX_DIGEST_ITEMS = 100  # More items than this go out as a second digest message.
DAILY_DIGEST_HOUR = 8  # Daily digests go out at 08:00 in the recipient's time zone.


@dataclass(frozen=True, slots=True)
class DigestGroup:
    """Due digest rows of one user, channel and mode: those created before ``boundary``."""

    user_id: int
    channel: str
    mode: str
    boundary: datetime


def digest_groups(now: datetime, limit: int) -> list[DigestGroup]:
    """Return up to ``limit`` groups of digest rows whose window has closed.

    Hourly windows close on the hour for everyone; daily ones at DAILY_DIGEST_HOUR in each
    recipient's time zone, so daily rows are grouped per zone (few distinct values).
    """
    not_daily = and_(Delivery.digest.is_not(None), Delivery.digest != "daily")
    hourly = _groups(now, not_daily, window_start("hourly", now), limit)
    zones = db.session.scalars(
        select(User.timezone)
        .distinct()
        .join(Delivery, Delivery.user_id == User.id)
        .where(*claimable(now), Delivery.digest == "daily")
    ).all()
    daily: list[DigestGroup] = []
    for zone in zones:
        if len(hourly) + len(daily) >= limit:
            break
        boundary = window_start("daily", now, zone)
        condition = and_(Delivery.digest == "daily", User.timezone == zone)
        daily += _groups(now, condition, boundary, limit - len(hourly) - len(daily))
    db.session.rollback()  # End the read; PostgreSQL would otherwise keep a transaction open.
    return hourly + daily


def _groups(
    now: datetime, condition: ColumnElement[bool], boundary: datetime, limit: int
) -> list[DigestGroup]:
    rows = db.session.execute(
        select(Delivery.user_id, Delivery.channel, Delivery.digest)
        .join(User, User.id == Delivery.user_id)
        .where(*claimable(now), condition, Delivery.created_at < boundary)
        .group_by(Delivery.user_id, Delivery.channel, Delivery.digest)
        .order_by(Delivery.user_id, Delivery.channel, Delivery.digest)
        .limit(limit)
    ).all()
    # The join on users drops rows without one: every user_id here is set.
    return [DigestGroup(int(u or 0), str(c), str(m), boundary) for u, c, m in rows]


def window_start(mode: str, now: datetime, timezone: str | None = None) -> datetime:
    """Return when the current digest window opened (naive UTC); older rows are due.

    Hourly windows start on the hour (UTC); daily windows at DAILY_DIGEST_HOUR local time.
    """
    if mode != "daily":
        return now.replace(minute=0, second=0, microsecond=0)
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.replace(tzinfo=UTC).astimezone(zone)
    start = local.replace(hour=DAILY_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if start > local:
        start -= timedelta(days=1)  # Wall-clock arithmetic: still 08:00 across a DST change.
    return start.astimezone(UTC).replace(tzinfo=None)


def claim_digest(group: DigestGroup, now: datetime, *, lease: timedelta = LEASE) -> Claim | None:
    """Claim the group's rows from closed windows and commit; None when another worker won."""
    query = (
        select(Delivery.id)
        .where(
            *claimable(now),
            Delivery.user_id == group.user_id,
            Delivery.channel == group.channel,
            Delivery.digest == group.mode,
            Delivery.created_at < group.boundary,
        )
        .order_by(Delivery.id)
    )
    return claim_query(query, now, want=MAX_DIGEST_ITEMS, lease=lease)
