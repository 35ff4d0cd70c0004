"""Request guards run before every view, API and pages alike: ids in range, storable strings.

- An integer path id its table cannot hold (beyond 64-bit on SQLite, beyond the column's
  type elsewhere: Integer is 32-bit on PostgreSQL) names nothing: 404 before the view runs,
  instead of an overflow error from the database driver.
- A query parameter, form field or Idempotency-Key with NUL or a lone surrogate is refused:
  422 with the JSON error body on the API, a 400 page on pages (no browser form sends NUL).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request

from notifier.models import (
    ApiToken,
    ChatIntegration,
    Delivery,
    Notification,
    PushSubscription,
    ScheduledNotification,
    User,
    WebhookEndpoint,
)
from notifier.service import clean
from notifier.service.errors import ValidationError

# The column each integer path argument looks up; any other int argument gets the
# narrowest common range (clean.id_max without a column).
PATH_IDS: dict[str, Any] = {
    "notification_id": Notification.id,
    "nid": Notification.id,
    "token_id": ApiToken.id,
    "webhook_id": WebhookEndpoint.id,
    "subscription_id": PushSubscription.id,
    "delivery_id": Delivery.id,
    "integration_id": ChatIntegration.id,
    "scheduled_id": ScheduledNotification.id,
    "user_id": User.id,
}
CHECKED_HEADERS = ("Idempotency-Key",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _bound_path_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    for name, value in (values or {}).items():
        if isinstance(value, int) and value > clean.id_max(PATH_IDS.get(name)):
            abort(404)


def _first_bad() -> tuple[str, str] | None:
    """Return (name, reason) of the first unstorable query arg, form field or header."""
    sources = [request.args]
    if request.mimetype in FORM_TYPES:
        sources.append(request.form)
    for source in sources:
        for key, value in source.items(multi=True):
            if reason := clean.bad_chars(key):
                return "query", f"a parameter name {reason}"
            if reason := clean.bad_chars(value):
                return key, reason
    for header in CHECKED_HEADERS:
        sent = request.headers.get(header)
        if sent is not None and (reason := clean.bad_chars(sent)):
            return header, reason
    return None


def _refuse_bad_strings() -> None:
    bad = _first_bad()
    if bad is None:
        return
    name, reason = bad
    if request.path.startswith("/api/"):
        raise ValidationError(f"{name} {reason}", fields={name: reason})
    abort(400, description=f"{name} {reason}")


def init_app(app: Flask) -> None:
    """Install the guards on every route of ``app``."""
    app.url_value_preprocessor(_bound_path_ids)
    # Registered before the blueprints' own hooks run (app hooks come first), so no view,
    # login check or rate limit sees the bad value.
    app.before_request(_refuse_bad_strings)
