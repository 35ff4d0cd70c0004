"""Run a throwaway PostgreSQL cluster for the tests (a pytest plugin module).

The cluster comes from Debian's ``postgresql`` package (binaries under
``/usr/lib/postgresql/<major>/bin``). It lives in a temporary directory, listens only on a
unix socket there (no TCP at all), runs with ``fsync=off`` and is stopped with
``pg_ctl stop -m immediate`` and deleted at the end of the session. PostgreSQL refuses to run
as root, so as root the server programs run as the ``postgres`` user via ``runuser``; the
test process (any user) connects over the socket with ``trust`` authentication as the
superuser ``postgres``. A missing PostgreSQL fails the run (never skips).

Fixtures:
    postgres_server      session: the running cluster (``url(db)``, ``create_database(name)``)
    postgres_url         session: SQLAlchemy URL of the database ``notifier_test``
    fresh_postgres_url   function: SQLAlchemy URL of a new, empty database, dropped afterwards
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin; "
    "install the Debian/Ubuntu package `postgresql` (apt-get install postgresql)"
)
SUPERUSER = "postgres"
PORT = 5432  # only names the socket file (.s.PGSQL.5432) in our private directory


def find_bindir() -> Path:
    """Return the newest PostgreSQL bin directory that has initdb, pg_ctl and postgres."""
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        major = Path(initdb).parent.parent.name
        if major.isdigit():
            candidates.append((int(major), Path(initdb).parent))
    for _major, bindir in sorted(candidates, reverse=True):
        if all((bindir / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return bindir
    initdb = shutil.which("initdb")  # other systems put the server binaries on PATH
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise RuntimeError(MISSING)


def _server_user() -> str | None:
    """Return the unprivileged user to run the server as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root but neither a `postgres` nor a `nobody` user exists")


class PostgresServer:
    """Initialise, start and stop one private PostgreSQL cluster in a temporary directory."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.run_as = _server_user()
        # Not pytest's tmp_path: its base directory is 0700 root-only, which the postgres
        # user could not enter. A short path also keeps the socket path under 108 bytes.
        base = "/tmp" if os.path.isdir("/tmp") else None
        self.directory = Path(tempfile.mkdtemp(prefix="notifier-pg-", dir=base))
        self.datadir = self.directory / "data"
        self.socket_dir = self.directory
        self.logfile = self.directory / "postgres.log"
        self._counter = itertools.count(1)
        self.started = False
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        os.chmod(self.directory, 0o700)

    def _run(self, exe: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a server program (as the unprivileged user when root); raise with its output."""
        cmd = [str(self.bindir / exe), *args]
        if self.run_as is not None:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        proc = subprocess.run(
            cmd,
            cwd=self.directory,  # the server user may not be able to enter the caller's cwd
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}{self.log_tail()}"
            )
        return proc

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of the server log, for error messages."""
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return ""
        return "\n--- postgres.log ---\n" + "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        """Run initdb, write a socket-only, no-fsync configuration and start the server."""
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "''",  # no TCP socket at all
            "unix_socket_directories": f"'{self.socket_dir}'",
            "port": str(PORT),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "timezone": "'UTC'",
        }
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# notifier test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "start")
        self.started = True

    def stop(self) -> None:
        """Stop the server at once (``-m immediate``) and delete the directory."""
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, dbname: str) -> str:
        """Return the SQLAlchemy (psycopg 3) URL of ``dbname`` over the unix socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{dbname}?host={self.socket_dir}&port={PORT}"

    def connect_admin(self) -> psycopg.Connection:
        """Return an autocommit psycopg connection to the ``postgres`` database."""
        return psycopg.connect(
            host=str(self.socket_dir), port=PORT, user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a unique name unless given) and return its name."""
        name = name or f"notifier_t{next(self._counter)}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"unsafe database name {name!r}")
        with self.connect_admin() as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connections still open to it."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"unsafe database name {name!r}")
        with self.connect_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start one private PostgreSQL cluster for the session; fail if PostgreSQL is missing."""
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """Return the SQLAlchemy URL of the session's database ``notifier_test``."""
    return postgres_server.url(postgres_server.create_database("notifier_test"))


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """Return the URL of a new, empty database for one test; it is dropped afterwards."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
