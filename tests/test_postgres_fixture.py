"""Smoke-test the throwaway PostgreSQL cluster fixtures with SQLAlchemy 2 and psycopg 3."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.fixtures_postgres import PostgresServer

pytestmark = pytest.mark.postgres


def test_postgres_url_connects_over_the_unix_socket(postgres_url, postgres_server):
    assert postgres_url.startswith("postgresql+psycopg://postgres@/notifier_test?host=/")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            version = conn.execute(sa.text("show server_version")).scalar_one()
            assert int(version.split(".")[0]) >= 13, version
            assert conn.execute(sa.text("select current_database()")).scalar_one() == (
                "notifier_test"
            )
            # Socket only: no TCP listener, and the socket lives in the private directory.
            assert conn.execute(sa.text("show listen_addresses")).scalar_one() == ""
            socket_dirs = conn.execute(sa.text("show unix_socket_directories")).scalar_one()
            assert socket_dirs == str(postgres_server.socket_dir)
            assert conn.execute(sa.text("show fsync")).scalar_one() == "off"
            assert conn.execute(sa.text("select inet_server_addr()")).scalar_one() is None
        assert engine.dialect.driver == "psycopg"
        assert engine.dialect.server_version_info[0] == int(version.split(".")[0])
    finally:
        engine.dispose()


def test_fresh_postgres_url_is_a_new_empty_database(fresh_postgres_url, postgres_url):
    assert fresh_postgres_url != postgres_url
    engine = sa.create_engine(fresh_postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (id serial primary key, v text)"))
            conn.execute(sa.text("insert into t (v) values ('x')"))
        assert sa.inspect(engine).get_table_names() == ["t"]
    finally:
        engine.dispose()
    other = sa.create_engine(postgres_url)
    try:
        assert "t" not in sa.inspect(other).get_table_names()
    finally:
        other.dispose()


def test_server_programs_run_unprivileged(postgres_server: PostgresServer):
    with postgres_server.connect_admin() as conn:
        row = conn.execute("select pg_postmaster_start_time() is not null").fetchone()
        assert row == (True,)
    data_owner = postgres_server.datadir.stat().st_uid
    assert data_owner != 0  # PostgreSQL refuses root; as root the cluster belongs to postgres


def test_missing_postgresql_names_the_debian_package(monkeypatch):
    from tests import fixtures_postgres

    monkeypatch.setattr(fixtures_postgres.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(fixtures_postgres.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"install the Debian/Ubuntu package `postgresql`"):
        fixtures_postgres.find_bindir()
