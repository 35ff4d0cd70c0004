"""Preferences: the type × channel matrix, global switches, quiet hours and digests."""

from __future__ import annotations

import copy
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

from notifier.channels import REGISTRY, USER_CHANNELS
from notifier.extensions import db
from notifier.models import Preference, User
from notifier.service.errors import ValidationError

DIGEST_MODES = ("off", "hourly", "daily")
# \A…\Z, not ^…$: "$" also matches before a trailing newline, so "comment\n" passed.
TYPE_RE = re.compile(r"\A[A-Za-z0-9_.:-]{1,64}\Z")
HHMM_RE = re.compile(r"\A([01][0-9]|2[0-3]):([0-5][0-9])\Z")

# Per-type entries a user may keep in `types` and in `digest` (names are at most 64 characters,
# so a stored document stays under ~40 KB); PATCH merges, so without a cap it grew every call.
MAX_TYPES = 200

DEFAULTS: dict[str, Any] = {
    "channels": {ch: REGISTRY[ch].default_on for ch in USER_CHANNELS},
    "types": {},
    "quiet_hours": {"enabled": False, "start": "22:00", "end": "07:00", "timezone": "UTC"},
    "digest": {},
}


def mandatory_types() -> tuple[str, ...]:
    """Return the types users cannot switch off in-app."""
    return tuple(current_app.config.get("NOTIFIER_MANDATORY_TYPES", ()))


def _copy(value: Any) -> Any:
    """Copy a JSON document (dicts, lists, scalars): several times cheaper than deepcopy.

    A broadcast merges every recipient's preferences with the defaults; deepcopy's memo and
    dispatch were 13 % of a 1,000-recipient publish.
    """
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _copy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _copy(value)
    return out


def effective(
    stored: dict[str, Any] | None, mandatory: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Return a stored preferences document with defaults filled in and mandatory types on.

    ``mandatory`` saves the config read when one caller applies this to many users.
    """
    prefs = _merge(DEFAULTS, stored or {})
    for t in mandatory_types() if mandatory is None else mandatory:
        prefs["types"].setdefault(t, {})["in_app"] = True
    return prefs


def get_preferences(user_id: int) -> dict[str, Any]:
    """Return the user's preferences with defaults filled in."""
    row = db.session.get(Preference, user_id)
    return effective(row.data if row else None)


def _check_bool(value: Any, field: str, errors: dict[str, str]) -> None:
    if not isinstance(value, bool):
        errors[field] = "must be true or false"


def _check_channels(channels: Any, errors: dict[str, str]) -> None:
    if not isinstance(channels, dict):
        errors["channels"] = "must be an object"
        return
    for ch, val in channels.items():
        if ch not in USER_CHANNELS:
            errors[f"channels.{ch}"] = "unknown channel"
        else:
            _check_bool(val, f"channels.{ch}", errors)


def _check_types(types: Any, errors: dict[str, str]) -> None:
    if not isinstance(types, dict):
        errors["types"] = "must be an object"
        return
    for t, matrix in types.items():
        if not TYPE_RE.fullmatch(str(t)):
            errors[f"types.{t}"] = "invalid type name"
        elif not isinstance(matrix, dict):
            errors[f"types.{t}"] = "must be an object"
        else:
            for ch, val in matrix.items():
                if ch not in USER_CHANNELS:
                    errors[f"types.{t}.{ch}"] = "unknown channel"
                else:
                    _check_bool(val, f"types.{t}.{ch}", errors)
            if t in mandatory_types() and matrix.get("in_app") is False:
                errors[f"types.{t}.in_app"] = "this type is mandatory in-app"


def _check_quiet_hours(qh: Any, errors: dict[str, str]) -> None:
    if not isinstance(qh, dict):
        errors["quiet_hours"] = "must be an object"
        return
    for key in qh:
        if key not in DEFAULTS["quiet_hours"]:
            errors[f"quiet_hours.{key}"] = "unknown field"
    if "enabled" in qh:
        _check_bool(qh["enabled"], "quiet_hours.enabled", errors)
    for key in ("start", "end"):
        if key in qh and not (isinstance(qh[key], str) and HHMM_RE.fullmatch(qh[key])):
            errors[f"quiet_hours.{key}"] = "must be HH:MM (24-hour)"
    if "timezone" in qh and not valid_timezone(qh["timezone"]):
        errors["quiet_hours.timezone"] = "unknown time zone"


def _check_digest(digest: Any, errors: dict[str, str]) -> None:
    if not isinstance(digest, dict):
        errors["digest"] = "must be an object"
        return
    for t, mode in digest.items():
        if not TYPE_RE.fullmatch(str(t)):
            errors[f"digest.{t}"] = "invalid type name"
        elif mode not in DIGEST_MODES:
            errors[f"digest.{t}"] = "must be off, hourly or daily"


def validate(doc: Any) -> dict[str, Any]:
    """Validate a full preferences document; raise ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    if not isinstance(doc, dict):
        raise ValidationError("preferences must be an object", fields={"body": "not an object"})
    for key in doc:
        if key not in DEFAULTS:
            errors[key] = "unknown field"
    _check_channels(doc.get("channels", {}), errors)
    _check_types(doc.get("types", {}), errors)
    _check_quiet_hours(doc.get("quiet_hours", {}), errors)
    _check_digest(doc.get("digest", {}), errors)
    if errors:
        raise ValidationError("invalid preferences", fields=errors)
    return doc


def valid_timezone(name: Any) -> bool:
    """Return True for an IANA time zone name."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def set_preferences(user: User, doc: Any, *, merge: bool) -> dict[str, Any]:
    """Replace (PUT) or merge (PATCH) the user's preferences; return the effective document."""
    validate(doc)
    row = db.session.get(Preference, user.id)
    current = row.data if row else {}
    new = _merge(current, doc) if merge else copy.deepcopy(doc)
    validate(_merge(DEFAULTS, new))
    check_bounds(new)
    if row is None:
        db.session.add(Preference(user_id=user.id, data=new))
    else:
        row.data = new
    db.session.commit()
    return get_preferences(user.id)


def check_bounds(doc: dict[str, Any]) -> None:
    """Refuse a document holding more than MAX_TYPES entries in ``types`` or ``digest``."""
    errors = {
        key: f"at most {MAX_TYPES} types; PUT the whole document to drop some"
        for key in ("types", "digest")
        if len(doc.get(key) or {}) > MAX_TYPES
    }
    if errors:
        raise ValidationError("too many preference types", fields=errors)


def channel_allowed(
    prefs: dict[str, Any], ntype: str, channel: str, mandatory: tuple[str, ...] | None = None
) -> bool:
    """Apply global switches and the type matrix; mandatory types always reach the inbox.

    ``mandatory`` saves the config read when one caller asks for many users.
    """
    if channel == "in_app" and ntype in (mandatory_types() if mandatory is None else mandatory):
        return True
    if not prefs["channels"].get(channel, False):
        return False
    return bool(prefs["types"].get(ntype, {}).get(channel, True))


def quiet_until(prefs: dict[str, Any], now_utc: datetime) -> datetime | None:
    """Return when quiet hours end (naive UTC) if ``now_utc`` falls inside them, else None."""
    qh = prefs["quiet_hours"]
    if not qh.get("enabled"):
        return None
    tz = ZoneInfo(qh.get("timezone") or "UTC")
    local = now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    start = time.fromisoformat(qh["start"])
    end = time.fromisoformat(qh["end"])
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside or start == end:
        return None
    end_local = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if end_local <= local:
        end_local += timedelta(days=1)
    return end_local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def digest_mode(prefs: dict[str, Any], ntype: str) -> str:
    """Return off, hourly or daily for email about this type."""
    return str(prefs["digest"].get(ntype, "off"))
