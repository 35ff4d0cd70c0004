"""Deploy the documented production set-up on this machine, in a throwaway directory.

PostgreSQL (a private cluster, tests/fixtures_postgres.py), redis-server on a private TCP port,
two gunicorn instances as two "hosts" (``gunicorn -k gevent -w 2 -c gunicorn.conf.py app:app``
with deployment.md's flags) and nginx with deployment.md's configuration in front of both. The
servers run from ``checkout`` (its directory first on PYTHONPATH and as cwd) with this venv's
Python, so the same harness can drive an older source tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from scripts.faults.services import Gunicorn, Nginx, Redis
from tests.fixtures_postgres import PostgresServer

SECRET = "faults-harness-secret-identical-on-every-host"  # noqa: S105 - a throwaway
MEMBERS = 10

SETUP_MEMBERS = """
import json, sys
from sqlalchemy import select
from app import app
from notifier.extensions import db
from notifier.models import User
from notifier.service import accounts
with app.app_context():
    users = db.session.scalars(select(User).where(User.email.like('member%@example.com')))
    print(json.dumps({u.email: accounts.create_token(u, 'faults') for u in users}))
"""


class Stack:
    """The whole deployment; ``front`` is the URL clients use (nginx, or host A without it)."""

    def __init__(
        self, checkout: Path, workdir: Path, *, nginx: bool = True, upstream_params: str = ""
    ) -> None:
        self.upstream_params = upstream_params
        self.checkout = checkout
        self.workdir = workdir
        self.pg = PostgresServer()
        self.redis = Redis(workdir)
        self.use_nginx = nginx
        self.nginx: Nginx | None = None
        self.hosts: list[Gunicorn] = []
        self.admin_token = ""
        self.member_tokens: dict[str, str] = {}
        self.dbname = "notifier"

    @property
    def fronts(self) -> list[str]:
        """Return the URLs a client may use, in order of preference."""
        if self.nginx is not None:
            return [self.nginx.url]
        return [h.url for h in self.hosts]

    def env(self) -> dict[str, str]:
        """Return the environment every host gets (deployment.md section 2)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "PG"))}
        env.update(
            DATABASE_URL=self.pg.url(self.dbname),
            REDIS_URL=self.redis.url,
            SECRET_KEY=SECRET,
            NOTIFIER_TRUSTED_PROXIES="1" if self.use_nginx else "0",
            # The old default (300/minute) is below the harness's 20/s; today's is 200/second.
            NOTIFIER_RATE_LIMIT_PUBLISH="200/second",
            PYTHONPATH=str(self.checkout),
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",  # the checkout may be someone else's worktree
            XDG_RUNTIME_DIR=str(self.workdir),
            HOME=str(self.workdir),
        )
        return env

    def flask(self, *args: str) -> str:
        """Run ``flask --app app …`` from the checkout; return stdout."""
        out = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=self.checkout, env=self.env(), capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out.stdout

    def start(self, log=print) -> None:  # noqa: ANN001
        """Bring everything up and create the admin and the member accounts with tokens."""
        t = time.monotonic()
        self.pg.start()
        self.pg.create_database(self.dbname)
        self.redis.start()
        log(f"  postgres + redis up ({time.monotonic() - t:.1f} s)")
        self.flask("init-db")
        self.flask("create-user", "ops@example.com", "--admin", "--tenant", "faults")
        self.admin_token = self.flask("create-token", "ops@example.com", "--name", "faults").strip()
        for name in ("a", "b"):
            self.hosts.append(Gunicorn(name, self.checkout, self.env(), self.workdir))
        for h in self.hosts:
            h.launch()
        for h in self.hosts:
            h.wait_started()
        ports = ", ".join(f"{h.name} :{h.port}" for h in self.hosts)
        log(f"  gunicorn {ports} ({time.monotonic() - t:.1f} s)")
        if self.use_nginx:
            ports = [h.port for h in self.hosts]
            self.nginx = Nginx(self.workdir, ports, self.upstream_params)
            self.nginx.start()
            log(f"  nginx :{self.nginx.port}")
        self._members()
        log(f"  {len(self.member_tokens)} members with tokens ({time.monotonic() - t:.1f} s)")

    def _members(self) -> None:
        """Provision the members through the API (admin token), then one token each."""
        from scripts.faults.load import request

        for i in range(MEMBERS):
            status, body = request(
                self.hosts[0].url, "POST", "/api/v1/users",
                {"email": f"member{i}@example.com"}, self.admin_token,
            )  # fmt: skip
            if status != 201:
                raise RuntimeError(f"POST /api/v1/users: {status} {body}")
        out = subprocess.run(
            [sys.executable, "-c", SETUP_MEMBERS],
            cwd=self.checkout, env=self.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"member tokens failed:\n{out.stderr}")
        self.member_tokens = json.loads(out.stdout.strip().splitlines()[-1])

    def pg_restart(self) -> float:
        """``pg_ctl restart -m fast``; return the seconds it took."""
        t = time.monotonic()
        self.pg._run(
            "pg_ctl", "-D", str(self.pg.datadir), "-l", str(self.pg.logfile),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip
        return time.monotonic() - t

    def psql(self, sql: str) -> list[tuple]:
        """Run one statement as the superuser on the app's database; return its rows."""
        import psycopg

        with psycopg.connect(
            host=str(self.pg.socket_dir), port=5432, user="postgres", dbname=self.dbname,
            autocommit=True,
        ) as conn:  # fmt: skip
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        """Stop everything that was started (each by its own handle)."""
        if self.nginx is not None:
            self.nginx.stop()
        for h in self.hosts:
            with contextlib.suppress(Exception):  # keep tearing down the rest
                h.stop(timeout=8)
        self.redis.kill()
        self.pg.stop()
