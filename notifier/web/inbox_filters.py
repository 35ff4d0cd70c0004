"""The notification center's filters: what the URL asks for, and the search it means.

Every filter lives in the URL (tabs, words, type, tag, priority, From and To days), so the
back button and a shared link show the same list. A malformed value is dropped rather than
refused: the page shows the unfiltered list instead of an error.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import request
from flask_login import current_user

from notifier.models import PRIORITIES
from notifier.service import clean, search, states

#: The page's tabs (Inbox, Unread, Archived) and the other lists a URL may ask for.
STATUSES = ("all", "unread", "archived", "read", "unseen", "snoozed")


def page_filters() -> dict[str, str]:
    """Return the page's filters from the request; anything malformed is dropped, not refused."""
    status = request.values.get("status", "all")
    priority = request.values.get("priority", "")
    return {
        "status": status if status in STATUSES else "all",
        "type": request.values.get("type", "").strip()[:64],
        "tag": request.values.get("tag", "").strip().lstrip("#")[:50],
        "priority": priority if priority in PRIORITIES else "",
        "q": request.values.get("q", "").strip()[:200],
        "since": _day(request.values.get("since", "")),
        "until": _day(request.values.get("until", "")),
    }


def _day(raw: str) -> str:
    """Return ``raw`` if it is a calendar day (YYYY-MM-DD), else "" (the filter is dropped).

    Years outside 1970-9998 are dropped too: their bounds could not be moved between time
    zones (date.max plus a day overflows), and no notification is that old or that new.
    """
    raw = raw.strip()
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return ""
    return day.isoformat() if day and 1970 <= day.year <= 9998 else ""


def day_bounds(f: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    """Return the naive-UTC range of the From and To days, read in the user's time zone.

    From is the start of its day, To the last moment of its day, so "To 2 Dec" keeps what
    came in on the evening of the 2nd wherever the user lives.
    """
    since = until = None
    if f["since"]:
        start = datetime.combine(date.fromisoformat(f["since"]), time())
        since = states.to_utc(start, current_user)
    if f["until"]:
        end = datetime.combine(date.fromisoformat(f["until"]) + timedelta(days=1), time())
        until = states.to_utc(end, current_user) - timedelta(microseconds=1)
    return since, until


def search_filters(f: dict[str, str]) -> search.Filters:
    """Return the service filters of the page's filters (the page always groups)."""
    since, until = day_bounds(f)
    return search.Filters(
        status=f["status"],
        type=f["type"] or None,
        tag=f["tag"] or None,
        priority=(f["priority"],) if f["priority"] else (),
        since=since,
        until=until,
        q=f["q"] if not clean.bad_chars(f["q"]) else "",
        group=True,
    )


def filter_args(f: dict[str, str]) -> dict[str, str]:
    """Return the non-default filters as query arguments (short, shareable URLs)."""
    return {k: v for k, v in f.items() if v and not (k == "status" and v == "all")}
