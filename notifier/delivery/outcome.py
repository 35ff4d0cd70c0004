"""Write what a send came to: sent, retry later with backoff, or dead for the admin.

Every write is guarded by the claim's lease token (``locked_until``): if the lease ran out and
another worker took the rows over, this worker's late result is dropped, not written over
the newer one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, update

from notifier.delivery.claim import Claim
from notifier.delivery.jobs import Outcome
from notifier.extensions import db
from notifier.models import Delivery, PushSubscription
from notifier.service.failures import printable

MAX_DELAY = 600.0  # The contract's cap: retries are at most ten minutes apart.
JITTER = 0.2  # ±20 %, so rows that failed together do not retry together.
MAX_RETRY_AFTER = 3600.0  # Honour a receiver's Retry-After, but never park a row for days.
MAX_ERROR = 500

Final = Literal["sent", "retry", "dead", "lost"]

_URL = re.compile(r"(https?://[^/\s'\"<>]+)[^\s'\"<>]*")
_URL_PATH = re.compile(r"(with url: )\S+")


@dataclass(frozen=True, slots=True)
class Recorded:
    """The status written for a claim and, for a retry, when it is due again."""

    status: Final
    attempt: int
    error: str | None = None
    delay: float | None = None


def backoff(
    attempt: int, base: float, retry_after: float | None = None, rng: Any = random
) -> float:
    """Return seconds until the next try after failed attempt number ``attempt`` (1-based).

    ``base * 2**(attempt-1)``, capped at MAX_DELAY, jittered ±JITTER (and capped again);
    a larger Retry-After from the receiver wins, up to MAX_RETRY_AFTER.
    """
    exponent = min(max(attempt - 1, 0), 32)  # 2**32 × any base is far past the cap already.
    delay = min(float(base) * 2**exponent, MAX_DELAY)
    delay = min(delay * rng.uniform(1 - JITTER, 1 + JITTER), MAX_DELAY)
    if retry_after is not None and retry_after > delay:
        delay = min(float(retry_after), MAX_RETRY_AFTER)
    return delay


def redact(message: str | None) -> str | None:
    """Drop URL paths (push endpoints are capabilities), escape NUL and surrogates, bound it."""
    if message is None:
        return None
    text = _URL_PATH.sub(r"\1…", _URL.sub(r"\1/…", printable(message)))
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def record(claim: Claim, outcome: Outcome, cfg: Mapping[str, Any], now: datetime) -> Recorded:
    """Write the outcome to the claimed rows (only while still ours) and commit."""
    attempt = max(row.attempts for row in claim.rows) + 1
    error = redact(outcome.error)
    values: dict[str, Any] = {"attempts": attempt, "locked_until": None}
    delay = None
    status: Final = outcome.status
    if status == "sent":
        values.update(status="sent", sent_at=now)
        if error:  # Some push subscriptions failed while another got it: keep the note.
            values["last_error"] = error
    elif status == "retry" and attempt >= int(cfg.get("NOTIFIER_RETRY_MAX_ATTEMPTS") or 1):
        status = "dead"
        error = f"gave up after {attempt} attempts: {error}"
        values.update(status="dead", last_error=error)
    elif status == "retry":
        delay = backoff(attempt, float(cfg.get("NOTIFIER_RETRY_BASE") or 0), outcome.retry_after)
        values.update(due_at=now + timedelta(seconds=delay), last_error=error)
    else:
        values.update(status="dead", last_error=error)
    result = db.session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(claim.ids),
            Delivery.status == "pending",
            Delivery.locked_until == claim.lease,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if outcome.gone_subscriptions:
        db.session.execute(
            delete(PushSubscription)
            .where(PushSubscription.id.in_(outcome.gone_subscriptions))
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    if result.rowcount != len(claim.ids):  # type: ignore[attr-defined]
        return Recorded("lost", attempt, error)
    return Recorded(status, attempt, error, delay)
