"""When a user reads: the best hour to send a non-urgent step (CONTRACT §10).

Helper D's module learns a decayed 24-hour histogram per user; this branch carries only the
function the workflow runner calls, answering "nothing learned yet" (send now).
"""

from __future__ import annotations

from datetime import datetime, timedelta


def best_send_time(
    user_id: int, timezone: str, now: datetime, within: timedelta
) -> datetime | None:
    """Return when, within ``within`` of ``now``, the user most likely reads; None: send now."""
    return None
