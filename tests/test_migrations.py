"""`flask init-db` runs the Alembic migrations, and they match the models exactly."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from notifier import create_app
from notifier.extensions import db
from notifier.models import outside_autogenerate


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_create_the_model_schema(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'm.sqlite'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": url})
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(directory=app.extensions["migrate"].directory)
        upgrade(directory=app.extensions["migrate"].directory)  # second run is a no-op
        with db.engine.connect() as conn:
            # Full-text search is hand-written DDL (FTS5 tables, an expression index).
            skip = {
                "include_object": lambda o, name, t, r, other: not outside_autogenerate(name, t)
            }
            diff = compare_metadata(MigrationContext.configure(conn, opts=skip), db.metadata)
        assert diff == []
        db.drop_all()
        db.engine.dispose()


def test_init_db_command_reports_the_database(tmp_path: Any) -> None:
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite'}"}
    )
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "database ready" in result.output
