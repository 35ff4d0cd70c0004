"""Parse the inbox list's query arguments (CONTRACT §5, §9) into search.Filters; 422 naming each."""

from __future__ import annotations

from datetime import datetime

from flask import request

from notifier.service import clean, search
from notifier.service.content import parse_time
from notifier.service.errors import ValidationError

MAX_Q = 200


def time_arg(name: str, errors: dict[str, str]) -> datetime | None:
    """Read query parameter ``name`` as an ISO 8601 time; a bad one goes into ``errors``."""
    raw = request.args.get(name)
    if not raw:
        return None
    parsed = parse_time(raw)
    if parsed is None:
        errors[name] = "must be an ISO 8601 time in the years 1970 to 9999"
    return parsed


def list_filters() -> search.Filters:
    """Return the filters of GET /notifications or raise one 422 naming every bad argument."""
    args = request.args
    errors: dict[str, str] = {}
    status = args.get("status") or "all"
    if status not in search.STATUSES:
        errors["status"] = "must be one of " + ", ".join(search.STATUSES)
    priority: tuple[str, ...] = ()
    try:
        priority = search.parse_priority(args.get("priority"))
    except ValidationError as exc:
        errors.update(exc.fields)
    since, until = time_arg("since", errors), time_arg("until", errors)
    q = args.get("q") or ""
    if len(q) > MAX_Q:
        errors["q"] = f"at most {MAX_Q} characters"
    elif reason := clean.bad_chars(q):
        errors["q"] = reason
    group = args.get("group") or "false"
    if group not in ("true", "false"):
        errors["group"] = "must be true or false"
    if errors:
        raise ValidationError("bad list arguments", fields=errors)
    return search.Filters(
        status=status,
        type=args.get("type") or None,
        tag=args.get("tag") or None,
        priority=priority,
        since=since,
        until=until,
        q=q,
        group=group == "true",
    )


def group_arg() -> bool:
    """Return ?group= as a bool (true or false, empty is false); 422 for anything else."""
    raw = request.args.get("group") or "false"
    if raw not in ("true", "false"):
        raise ValidationError("bad group", fields={"group": "must be true or false"})
    return raw == "true"
