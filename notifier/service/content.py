"""Validation of what a notification says, shared by the API, the admin form and the CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from notifier.models import PRIORITIES
from notifier.service import clean
from notifier.service.errors import ValidationError
from notifier.service.preferences import TYPE_RE

ALL_CHANNELS = ("in_app", "email", "push", "sms", "webhook", "chat")
TAG_RE = re.compile(r"\A[A-Za-z0-9_.:-]{1,50}\Z")
MAX_TAGS = 10


def _opt_str(doc: dict[str, Any], key: str, limit: int, errors: dict[str, str]) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors[key] = "must be a string"
        return None
    if len(value) > limit:
        errors[key] = f"at most {limit} characters"
        return None
    return value


def safe_url(value: str) -> bool:
    """Accept http(s) URLs and same-site paths; refuse javascript:, data: and //host.

    Control characters are refused first: browsers drop tabs and newlines inside a URL, so
    "/\t/evil.example" would be followed as "//evil.example", and a CR or LF cannot go
    into a Location header at all.
    """
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        return False
    if value.startswith("/"):
        return not value.startswith("//") and "\\" not in value
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[" and other malformed netlocs
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO 8601 time into naive UTC; None when it is not one or lies outside 1970–9999."""
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        # 9999-12-31T23:00-14:00 is past datetime.max in UTC: OverflowError, not ValueError.
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return dt if clean.storable_time(dt) else None


def _refuse_unstorable(out: dict[str, Any], errors: dict[str, str]) -> None:
    """Name each text field with NUL or a lone surrogate (the CLI and forms come here too)."""
    for key in ("type", "title", "body", "entity_type", "entity_id", "url"):
        value = out.get(key)
        if key not in errors and isinstance(value, str) and (reason := clean.bad_chars(value)):
            errors[key] = reason


def validate_content(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the cleaned notification fields or raise ValidationError naming each bad one."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    ntype = doc.get("type")
    if ntype is None or ntype == "":
        errors["type"] = "is required"
    elif not isinstance(ntype, str) or not TYPE_RE.fullmatch(ntype):
        errors["type"] = "letters, digits and _.:- only, at most 64"
    out["type"] = ntype
    title = doc.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        errors["title"] = "is required"
    elif not isinstance(title, str):
        errors["title"] = "must be a string"
    elif len(title) > 200:
        errors["title"] = "at most 200 characters"
    out["title"] = title.strip() if isinstance(title, str) else title
    out["body"] = _opt_str(doc, "body", 10000, errors) or ""
    priority = doc.get("priority", "normal")
    if priority not in PRIORITIES:
        errors["priority"] = "must be one of " + ", ".join(PRIORITIES)
    out["priority"] = priority
    out["entity_type"] = _opt_str(doc, "entity_type", 64, errors)
    entity_id = doc.get("entity_id")
    if isinstance(entity_id, bool) or not isinstance(entity_id, str | int | type(None)):
        errors["entity_id"] = "must be a string"
    elif entity_id is not None and len(str(entity_id)) > 128:
        errors["entity_id"] = "at most 128 characters"
    out["entity_id"] = None if entity_id is None else str(entity_id)
    url = _opt_str(doc, "url", 2048, errors)
    if url and not safe_url(url):
        errors["url"] = "must be an http(s) URL or a path starting with /"
    out["url"] = url or None
    tags = doc.get("tags", [])
    if tags is None:
        tags = []
    tags_ok = isinstance(tags, list) and all(
        isinstance(t, str) and TAG_RE.fullmatch(t) for t in tags
    )
    if not tags_ok:
        errors["tags"] = "a list of tags (letters, digits and _.:- only, at most 50 each)"
    elif len(tags) > MAX_TAGS:
        errors["tags"] = f"at most {MAX_TAGS} tags"
    # Deduplicate only once every item is known to be a string (lists are unhashable).
    out["tags"] = list(dict.fromkeys(tags)) if tags_ok else []
    channels = doc.get("channels")
    channels_ok = isinstance(channels, list) and all(
        isinstance(c, str) and c in ALL_CHANNELS for c in channels
    )
    if channels is not None and (not channels_ok or not channels):
        errors["channels"] = "a non-empty list of " + ", ".join(ALL_CHANNELS)
    out["channels"] = list(dict.fromkeys(channels)) if channels_ok else None
    send_at = doc.get("send_at")
    out["send_at"] = None
    if send_at is not None:
        parsed = parse_time(send_at)
        if parsed is None:
            errors["send_at"] = "must be an ISO 8601 time in the years 1970 to 9999"
        out["send_at"] = parsed
    _refuse_unstorable(out, errors)
    if errors:
        raise ValidationError("invalid notification", fields=errors)
    return out
