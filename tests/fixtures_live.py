"""Servers under test in subprocesses: `python app.py` (or gunicorn) on a private port.

``LiveServer`` can be stopped, SIGKILLed and restarted on the same port and database, which
is what the resume-after-restart tests need. Each server gets its own instance folder via
env (DATABASE_URL, SECRET_KEY) so tests never touch instance/ of the checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port that is free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """One server process; ``url`` stays the same across restarts."""

    def __init__(self, workdir: Path, env: dict[str, str], *, gunicorn_workers: int = 0) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gunicorn_workers = gunicorn_workers
        self.env = {
            **os.environ,
            "SECRET_KEY": "live-test-secret",
            "DATABASE_URL": f"sqlite:///{workdir / 'live.sqlite'}",
            "NOTIFIER_PING_INTERVAL": "25",
            "NOTIFIER_TESTING_FAST_HASH": "1",
            # Tests publish and log in far faster than people; the limiter has its own tests.
            "NOTIFIER_RATE_LIMIT_PUBLISH": "100000/minute",
            "NOTIFIER_RATE_LIMIT_LOGIN": "10000/minute",
            "NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT": "10000/minute",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.env.pop("REDIS_URL", None) if "REDIS_URL" not in env else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"server-{self.port}.log"

    def flask(self, *args: str) -> str:
        """Run a `flask --app app` command against this server's database; return stdout."""
        out = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def create_token(self, email: str, name: str = "cli") -> str:
        """Create an API token for ``email`` in this process, as `flask create-token` does.

        Same service call and database as the CLI, without the CLI's fresh interpreter
        (~2.4 s of CPU to import the app; tests/test_cli.py covers the command itself).
        """
        from sqlalchemy import select

        from notifier import create_app
        from notifier.extensions import db
        from notifier.models import User
        from notifier.service import accounts

        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": self.env["SECRET_KEY"],
                "DATABASE_URL": self.env["DATABASE_URL"],
                "NOTIFIER_INSTANCE": "test",
            }
        )
        with app.app_context():
            try:
                user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
                if user is None:
                    raise RuntimeError(f"no user {email}")
                return accounts.create_token(user, name)
            finally:
                db.session.remove()
                db.engine.dispose()

    def start(self) -> LiveServer:
        """Start the process and wait until /healthz answers."""
        if self.gunicorn_workers:
            cmd = [
                sys.executable,
                "-m",
                "gunicorn",
                "-k",
                "gevent",
                "-w",
                str(self.gunicorn_workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "3",
                "app:app",
            ]
        else:
            cmd = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        log.close()
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        """Poll /healthz until it answers 200 or the process dies.

        A server that fails to start exits, which ends the wait at once; the deadline only
        catches a hung one. It is generous because start-up (imports, gevent patching) takes
        2-3 s on an idle machine but well over 30 s while pytest-xdist workers and other jobs
        share 2 cores: servers that were starting fine failed "not ready in 30s".
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """Return what the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        """Send ``sig`` and wait for exit (SIGKILL after ``timeout``); return the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL the server: no cleanup runs, as in a crash."""
        self.stop(signal.SIGKILL)

    def restart(self) -> LiveServer:
        """Start again on the same port and database."""
        self.stop()
        return self.start()


#: Env keys whose value reaches what ``init-db``/``seed-demo`` write outside the SQLite file:
#: a database elsewhere, or a bus that would carry the seed's events. Those servers run the CLI.
NOT_TEMPLATED = ("DATABASE_URL", "REDIS_URL")


class DatabaseTemplates:
    """SQLite files made once per session by ``init-db`` (and ``seed-demo``), copied per server.

    Each CLI run is a fresh interpreter that imports the app: ~2.4 s of CPU, so init + seed
    cost ~5 s per live test, most of the browser tests' time. The copy holds what the commands
    wrote (the same migrations, users, password hashes and demo notifications); one template
    per distinct env, since the env is the commands' whole input besides the empty database.
    """

    def __init__(self, base: pytest.TempPathFactory) -> None:
        self._base = base
        self._made: dict[tuple[tuple[tuple[str, str], ...], bool], Path] = {}

    def copy_into(self, server: LiveServer, env: dict[str, str], *, seed: bool) -> bool:
        """Give ``server`` an initialised (and seeded) database; False when it must run the CLI."""
        target = server.workdir / "live.sqlite"
        if any(key in env for key in NOT_TEMPLATED) or target.exists():
            return False  # an existing database is upgraded/seeded in place, as before
        key = (tuple(sorted(env.items())), seed)
        source = self._made.get(key)
        if source is None:
            workdir = self._base.mktemp("live-template")
            template = LiveServer(workdir, env)
            template.flask("init-db")
            if seed:
                template.flask("seed-demo")
            source = self._made[key] = workdir / "live.sqlite"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
        return True


@pytest.fixture(scope="session")
def live_db_templates(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplates:
    """The session's initialised/seeded SQLite templates for live servers."""
    return DatabaseTemplates(tmp_path_factory)


@pytest.fixture
def live_server_factory(
    tmp_path: Path, live_db_templates: DatabaseTemplates
) -> Iterator[Callable[..., LiveServer]]:
    """Make LiveServers (initialised database included); all are stopped at teardown."""
    servers: list[LiveServer] = []

    def make(
        env: dict[str, str] | None = None,
        *,
        gunicorn_workers: int = 0,
        init: bool = True,
        seed: bool = False,
        workdir: Path | None = None,
    ) -> LiveServer:
        server = LiveServer(workdir or tmp_path, env or {}, gunicorn_workers=gunicorn_workers)
        if init and not live_db_templates.copy_into(server, env or {}, seed=seed):
            server.flask("init-db")
            if seed:
                server.flask("seed-demo")
        elif seed and not init:
            server.flask("seed-demo")
        servers.append(server)
        return server.start()

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """One `python app.py` server on SQLite with the demo data and the in-memory bus."""
    return live_server_factory(seed=True)


def http_json(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    """Send a JSON request with urllib; return (status, parsed body or None)."""
    import json

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None
