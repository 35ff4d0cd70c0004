"""Admin analytics page: rates and channel usage per day as SVG charts, tables, experiments.

Everything is the service's grouped queries (``service/analytics.py``,
``service/experiments.py``): one by (day, channel) for the charts, one by type and one by
channel for the tables, one by (type, variant) for the experiment view. The filter is a
plain GET form (it changes nothing, so it carries no CSRF token).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from notifier.auth import admin_required
from notifier.models import utcnow
from notifier.service import analytics, experiments
from notifier.service.preferences import TYPE_RE
from notifier.web import bp
from notifier.web.charts import Chart, line_chart, percent

DEFAULT_DAYS = 14
MAX_DAYS = 92


def _day(name: str, errors: dict[str, str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Use a date like 2026-01-31.")
        return None


def filters() -> tuple[dict[str, Any], dict[str, str]]:
    """Read the filter form (from, to, type, channel); bad fields fall back to the defaults."""
    errors: dict[str, str] = {}
    today = utcnow().date()
    until = _day("until", errors) or today
    since = _day("since", errors) or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        errors["since"] = _("The first day must not be after the last.")
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    if (until - since).days >= MAX_DAYS:
        errors["since"] = _("At most %(n)s days at a time.", n=MAX_DAYS)
        since = until - timedelta(days=MAX_DAYS - 1)
    ntype = request.args.get("type", "").strip() or None
    if ntype is not None and not TYPE_RE.fullmatch(ntype):
        errors["type"] = _("Letters, digits and _.:- only.")
        ntype = None
    channel = request.args.get("channel", "").strip() or None
    if channel is not None and channel not in analytics.CHANNELS:
        errors["channel"] = _("Unknown channel.")
        channel = None
    return {"since": since, "until": until, "type": ntype, "channel": channel}, errors


def _charts(data: dict[tuple[Any, ...], dict[str, int]], days: list[str]) -> list[Chart]:
    """Build the rate chart and the channel-usage chart from (day, channel) counts."""
    per_day = {d: dict.fromkeys(analytics.COUNTS, 0) for d in days}
    used = [c for c in analytics.CHANNELS if any(k[1] == c for k in data)]
    usage: dict[str, list[float | None]] = {c: [0.0] * len(days) for c in used}
    index = {d: i for i, d in enumerate(days)}
    for (day, channel), counts in data.items():
        if day not in per_day:
            continue
        for k, v in counts.items():
            per_day[day][k] += v
        usage[channel][index[day]] = float(counts["sent"])
    rates = {
        _("delivery rate"): [analytics.rate(c["delivered"], c["sent"]) for c in per_day.values()],
        _("read rate"): [analytics.rate(c["read"], c["delivered"]) for c in per_day.values()],
        _("click rate"): [analytics.rate(c["clicked"], c["delivered"]) for c in per_day.values()],
    }
    return [
        line_chart("rates", _("Delivery, read and click rate per day"), days, rates, rates=True),
        line_chart("channels", _("Messages sent per channel per day"), days, usage, rates=False),
    ]


@bp.get("/admin/analytics")
@admin_required
def admin_analytics() -> Any:
    """Show the tenant's outcomes over the chosen days, and its experiments."""
    f, errors = filters()
    tid = current_user.tenant_id
    since = datetime.combine(f["since"], datetime.min.time())
    until = datetime.combine(f["until"] + timedelta(days=1), datetime.min.time())
    days = [(f["since"] + timedelta(days=i)).isoformat() for i in range((until - since).days)]

    def query(*by: str) -> analytics.Query:
        return analytics.Query(tid, since, until, by=by, type=f["type"], channel=f["channel"])

    html = render_template(
        "admin/analytics.html",
        page_title=_("Analytics · Admin"),
        active="admin",
        section="analytics",
        f=f,
        errors=errors,
        channels=analytics.CHANNELS,
        types=[r["key"] for r in analytics.rows(analytics.Query(tid, since, until))],
        charts=_charts(analytics.grouped(query("day", "channel")), days),
        by_type=analytics.rows(query("type")),
        by_channel=analytics.rows(query("channel")),
        experiments=experiments.compare(tid, since, until, f["type"]),
        pct=percent,
    )
    return current_app.make_response(html)
