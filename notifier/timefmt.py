"""The one timestamp format of the API, the streams and the pages: ISO 8601 UTC, seconds, Z.

Stdlib only, so every layer (the bus included) can use it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(dt: datetime | None) -> str | None:
    """Format a datetime (naive means UTC) as ``2026-01-31T12:00:00Z``; None stays None."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="seconds") + "Z"


def iso_epoch(seconds: float) -> str:
    """Format a Unix time the same way."""
    return iso(datetime.fromtimestamp(seconds, UTC)) or ""


def iso_now() -> str:
    """Format the current time the same way."""
    return iso(datetime.now(UTC)) or ""
