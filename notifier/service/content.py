"""Validation of what a notification says, shared by the API, the admin form and the CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from notifier.channels import CHANNEL_NAMES
from notifier.models import PRIORITIES
from notifier.service import clean
from notifier.service.errors import ValidationError
from notifier.service.preferences import TYPE_RE

TAG_RE = re.compile(r"\A[A-Za-z0-9_.:-]{1,50}\Z")
MAX_TAGS = 10
MAX_ACTIONS = 3
ACTION_STYLES = ("primary", "secondary")
ACTION_FIELDS = ("id", "label", "url", "style", "callback")


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


def validate_actions(value: Any, errors: dict[str, str]) -> list[dict[str, Any]] | None:
    """Return the cleaned action buttons (CONTRACT §9), naming each bad field in ``errors``.

    An action is a link (``url``, checked like the notification's), a server-side action
    (``callback: true``) or both. Ids should be unique: a click names the first with its id
    (refusing duplicates would be a rule the OpenAPI document cannot state).
    """
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        errors["actions"] = "a list of at most 3 actions"
        return None
    if len(value) > MAX_ACTIONS:
        errors["actions"] = f"at most {MAX_ACTIONS} actions"
        return None
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(value):
        key = f"actions.{i}"
        if not isinstance(raw, dict):
            errors[key] = "must be an object"
            continue
        if unknown := [k for k in raw if k not in ACTION_FIELDS]:
            errors[f"{key}.{unknown[0]}"] = "unknown field"
            continue
        aid, label, url = raw.get("id"), raw.get("label"), raw.get("url")
        style, callback = (
            raw.get("style", "primary" if i == 0 else "secondary"),
            raw.get("callback"),
        )
        if not isinstance(aid, str) or not TAG_RE.fullmatch(aid):
            errors[f"{key}.id"] = "letters, digits and _.:- only, at most 50"
        if not isinstance(label, str) or not label.strip() or len(label) > 40:
            errors[f"{key}.label"] = "1 to 40 characters"
        elif reason := clean.bad_chars(label):
            errors[f"{key}.label"] = reason
        if url is not None and (
            not isinstance(url, str) or len(url) > 2048 or not url or not safe_url(url)
        ):
            errors[f"{key}.url"] = "must be an http(s) URL or a path starting with /"
        if style is None:
            style = "secondary"
        if style not in ACTION_STYLES:
            errors[f"{key}.style"] = "must be primary or secondary"
        if callback not in (None, True, False):
            errors[f"{key}.callback"] = "must be true or false"
        if url is None and callback is not True and f"{key}.url" not in errors:
            errors[f"{key}.url"] = "give a url, callback: true, or both"
        if not any(k.startswith(key) for k in errors):
            action: dict[str, Any] = {"id": aid, "label": str(label).strip(), "style": style}
            if url:
                action["url"] = url
            if callback:
                action["callback"] = True
            out.append(action)
    return out


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
    for key in ("type", "title", "body", "entity_type", "entity_id", "url", "group_key"):
        value = out.get(key)
        if key not in errors and isinstance(value, str) and (reason := clean.bad_chars(value)):
            errors[key] = reason


def _type(doc: dict[str, Any], errors: dict[str, str]) -> Any:
    ntype = doc.get("type")
    if ntype is None or ntype == "":
        errors["type"] = "is required"
    elif not isinstance(ntype, str) or not TYPE_RE.fullmatch(ntype):
        errors["type"] = "letters, digits and _.:- only, at most 64"
    return ntype


def _title(doc: dict[str, Any], errors: dict[str, str]) -> Any:
    title = doc.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        errors["title"] = "is required"
    elif not isinstance(title, str):
        errors["title"] = "must be a string"
    elif len(title) > 200:
        errors["title"] = "at most 200 characters"
    return title.strip() if isinstance(title, str) else title


def _priority(doc: dict[str, Any], errors: dict[str, str]) -> Any:
    priority = doc.get("priority", "normal")
    if priority not in PRIORITIES:
        errors["priority"] = "must be one of " + ", ".join(PRIORITIES)
    return priority


def _entity_id(doc: dict[str, Any], errors: dict[str, str]) -> str | None:
    entity_id = doc.get("entity_id")
    if isinstance(entity_id, bool) or not isinstance(entity_id, str | int | type(None)):
        errors["entity_id"] = "must be a string"
    elif entity_id is not None and len(str(entity_id)) > 128:
        errors["entity_id"] = "at most 128 characters"
    return None if entity_id is None else str(entity_id)


def _url(doc: dict[str, Any], errors: dict[str, str]) -> str | None:
    url = _opt_str(doc, "url", 2048, errors)
    if url and not safe_url(url):
        errors["url"] = "must be an http(s) URL or a path starting with /"
    return url or None


def _tags(doc: dict[str, Any], errors: dict[str, str]) -> list[str]:
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
    return list(dict.fromkeys(tags)) if tags_ok else []


def _channels(doc: dict[str, Any], errors: dict[str, str]) -> list[str] | None:
    channels = doc.get("channels")
    channels_ok = isinstance(channels, list) and all(
        isinstance(c, str) and c in CHANNEL_NAMES for c in channels
    )
    if channels is not None and (not channels_ok or not channels):
        errors["channels"] = "a non-empty list of " + ", ".join(CHANNEL_NAMES)
    return list(dict.fromkeys(channels)) if channels_ok and isinstance(channels, list) else None


def _send_at(doc: dict[str, Any], errors: dict[str, str]) -> datetime | None:
    send_at = doc.get("send_at")
    if send_at is None:
        return None
    parsed = parse_time(send_at)
    if parsed is None:
        errors["send_at"] = "must be an ISO 8601 time in the years 1970 to 9999"
    return parsed


def validate_content(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the cleaned notification fields or raise ValidationError naming each bad one."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {
        "type": _type(doc, errors),
        "title": _title(doc, errors),
        "body": _opt_str(doc, "body", 10000, errors) or "",
        "priority": _priority(doc, errors),
        "entity_type": _opt_str(doc, "entity_type", 64, errors),
        "entity_id": _entity_id(doc, errors),
        "url": _url(doc, errors),
        "tags": _tags(doc, errors),
        "channels": _channels(doc, errors),
        "send_at": _send_at(doc, errors),
        "group_key": _opt_str(doc, "group_key", 255, errors) or None,
        "actions": validate_actions(doc.get("actions"), errors),
    }
    _refuse_unstorable(out, errors)
    data = doc.get("data")
    if data is not None and not isinstance(data, dict):
        errors["data"] = "must be an object"
    elif data:  # the templates' variables (CONTRACT §10); travels with a scheduled send
        out["data"] = data
    if errors:
        raise ValidationError("invalid notification", fields=errors)
    return out
