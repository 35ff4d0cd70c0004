"""Measure what Session.execute adds over Connection.execute and raw sqlite3, for one SELECT.

``python -m bench.sa_overhead``: CPU µs per execution of the one-recipient SELECT of a
targeted publish, three ways, in one process on a fresh SQLite file. It is why the hot paths
run their Core statements on ``notifier.extensions.core()`` (the session's connection).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

from notifier.extensions import db
from notifier.service import recipients
from tests.conftest import make_app
from tests.factories import make_world

N = 3000


def cpu_us(fn: Callable[[], Any]) -> float:
    """Return CPU µs per call of ``fn`` after a warm-up."""
    for _ in range(300):
        fn()
    started = time.process_time()
    for _ in range(N):
        fn()
    return (time.process_time() - started) / N * 1e6


def main() -> None:
    """Print the three figures."""
    app = make_app(f"sqlite:///{tempfile.mkdtemp()}/overhead.sqlite")
    with app.app_context():
        world = make_world()
        params = {"tenant_id": world.alice.tenant_id, "user_id": world.alice.id}
        stmt = recipients._ONE  # noqa: SLF001 - the statement under test
        compiled = stmt.compile(dialect=db.engine.dialect)
        sql, order = str(compiled), compiled.positiontup or []
        raw = db.session.connection().connection.dbapi_connection
        assert raw is not None

        def raw_query() -> list[Any]:
            cur = raw.cursor()
            cur.execute(sql, [params[k] for k in order])
            rows = cur.fetchall()
            cur.close()
            return rows

        figures = {
            "session.execute": cpu_us(lambda: db.session.execute(stmt, params).all()),
            "connection.execute": cpu_us(
                lambda: db.session.connection().execute(stmt, params).all()
            ),
            "raw sqlite3": cpu_us(raw_query),
        }
    for name, us in figures.items():
        print(f"{name:20s} {us:6.0f} µs CPU per execution")


if __name__ == "__main__":
    main()
