"""When does a user read? A decayed 24-hour histogram in their zone, and the best hour to send.

The model (CONTRACT §10 ``optimize_send_time``, docs/send-time.md) is deliberately small:
each ``activity_hours`` row of the last :data:`WINDOW_DAYS` days adds
``reads·W_READ + clicks·W_CLICK + connects·W_CONNECT``, halved every :data:`HALF_LIFE_DAYS`
days of age, to the local hour (in the user's time zone) its UTC hour falls in. The best
send time within a horizon is the start of the hour with the largest weight, or now when the
current hour is as good; with fewer than :data:`MIN_SAMPLES` events nothing is learned yet
and the answer is None (send now).

:func:`histogram` and :func:`best_time` are pure (bench/send_time_sim.py runs them on a
simulated population); :func:`best_send_time` and :func:`profile` read the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from notifier.extensions import db
from notifier.models import User, utcnow
from notifier.models_flows import ActivityHour

WINDOW_DAYS = 30
HALF_LIFE_DAYS = 7.0
W_READ, W_CLICK, W_CONNECT = 1.0, 2.0, 0.5
#: Fewer events than this in the window: no model (send now).
MIN_SAMPLES = 5
HOUR = timedelta(hours=1)
#: (day, UTC hour, reads, clicks, connects): one activity_hours row.
Row = tuple[date, int, int, int, int]


def zone_of(name: str | None) -> ZoneInfo:
    """Return the zone named ``name``, UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def histogram(rows: Iterable[Row], zone: ZoneInfo, now: datetime) -> tuple[list[float], int]:
    """Fold activity rows into (24 local-hour weights, number of events in the window).

    ``now`` is naive UTC; rows older than WINDOW_DAYS (or in the future) are left out.
    """
    hours = [0.0] * 24
    samples = 0
    for day, hour, reads, clicks, connects in rows:
        start = datetime.combine(day, time(hour))
        age = (now - start).total_seconds() / 86400
        if not 0 <= age <= WINDOW_DAYS:
            continue
        local = start.replace(tzinfo=UTC).astimezone(zone).hour
        weight = reads * W_READ + clicks * W_CLICK + connects * W_CONNECT
        hours[local] += weight * 0.5 ** (age / HALF_LIFE_DAYS)
        samples += reads + clicks + connects
    return hours, samples


def best_time(
    hours: list[float],
    samples: int,
    zone: ZoneInfo,
    now: datetime,
    within: timedelta,
    near: float = 1.0,
) -> datetime | None:
    """Return the start of the heaviest local hour in [now, now + within] (naive UTC).

    ``now`` itself when the current hour weighs as much as any later one; ties go to the
    earliest, and so does any hour within ``near`` of the best (``near=0.5``: the first hour
    at least half as likely as the best). None when ``samples`` < MIN_SAMPLES.
    """
    if samples < MIN_SAMPLES:
        return None
    candidates = [(now, _weight(hours, zone, now))]
    start = now.replace(minute=0, second=0, microsecond=0) + HOUR
    while start <= now + within:
        candidates.append((start, _weight(hours, zone, start)))
        start += HOUR
    top = max(w for _, w in candidates)
    return next(at for at, w in candidates if w >= top * near)


def _weight(hours: list[float], zone: ZoneInfo, at: datetime) -> float:
    return hours[at.replace(tzinfo=UTC).astimezone(zone).hour]


def _rows(user_id: int, now: datetime) -> list[Row]:
    since = (now - timedelta(days=WINDOW_DAYS + 1)).date()
    q = select(
        ActivityHour.day,
        ActivityHour.hour,
        ActivityHour.reads,
        ActivityHour.clicks,
        ActivityHour.connects,
    ).where(ActivityHour.user_id == user_id, ActivityHour.day >= since)
    return [(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in db.session.execute(q)]


def best_send_time(
    user_id: int, timezone: str, now: datetime, within: timedelta
) -> datetime | None:
    """Return when to send a non-urgent message to the user: naive UTC, or None (send now).

    The start of the user's most active hour within ``within`` of ``now`` (naive UTC);
    ``now`` when the current hour is the best; None while fewer than MIN_SAMPLES events of
    the last WINDOW_DAYS days are known.
    """
    zone = zone_of(timezone)
    hours, samples = histogram(_rows(user_id, now), zone, now)
    return best_time(hours, samples, zone, now, within)


def profile(user: User, now: datetime | None = None) -> dict[str, Any]:
    """Return GET /api/v1/me/active-hours: {timezone, hours: 24 weights, samples}."""
    now = now or utcnow()
    zone = zone_of(user.timezone)
    hours, samples = histogram(_rows(user.id, now), zone, now)
    return {
        "timezone": zone.key,
        "hours": [round(h, 4) for h in hours],
        "samples": samples,
    }
