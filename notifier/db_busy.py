"""Answer 503 with Retry-After, quickly, when the database pool has no connection to lend.

Every pooled connection is checked out (a burst of stream opens, slow queries): SQLAlchemy
waits ``pool_timeout`` for one to come back and raises :class:`sqlalchemy.exc.TimeoutError`.
Its default wait was 30 s followed by a 500; ``NOTIFIER_DB_POOL_TIMEOUT`` keeps the wait short
and this handler turns it into the "come back soon" a load balancer and a client understand.
The page answer is a standalone template: rendering ``base.html`` would load the user and
wait on the same empty pool again.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_babel import force_locale
from sqlalchemy.exc import TimeoutError as PoolTimeout

from notifier.extensions import db
from notifier.i18n import LOCALES
from notifier.responses import error_response

#: Seconds a client is told to wait: the pool frees up as soon as requests finish.
RETRY_AFTER = "2"


def init_app(app: Flask) -> None:
    """Map a pool timeout to 503 JSON on the API and a short 503 page elsewhere."""

    @app.errorhandler(PoolTimeout)
    def _pool_exhausted(_exc: PoolTimeout) -> Any:
        db.session.rollback()  # no connection was lent: nothing to undo, but end the unit
        app.logger.warning("database pool exhausted on %s %s", request.method, request.path)
        headers = {"Retry-After": RETRY_AFTER}
        if request.path.startswith("/api/"):
            return error_response(
                503, "the database is busy; retry shortly", code="db_busy", headers=headers
            )
        # Straight from the Jinja environment, without Flask's context processors (Flask-Login's
        # loads current_user), and in the browser's language: the user's needs a connection.
        with force_locale(request.accept_languages.best_match(LOCALES) or "en"):
            return app.jinja_env.get_template("busy.html").render(), 503, headers
