"""Start and stop the systems under test: the floor, Notifier (SQLite), gunicorn + Redis + PG.

Each system answers the same two questions for the scenarios: how a user's stream is requested
(``stream_request``) and how a notification to one user or a whole tenant is posted
(``publish``), plus which processes' CPU and PSS belong to it (``roots``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procstat import children

ROOT = Path(__file__).resolve().parent.parent
# The checkout the servers run from: another one (an export of an older commit) gives a
# before/after pair measured by the same harness minutes apart.
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT") or ROOT)
PY = sys.executable


def free_port() -> int:
    """Return a free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Return once ``port`` accepts connections; raise if ``proc`` died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not open after {timeout}s")


class System:
    """A server under test; subclasses fill in start()."""

    name = "system"
    command = ""
    parallel_connects = 64  # streams the client opens at once

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.extra_roots: list[int] = []
        self.tenants: list[dict] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="notifier-bench-"))

    @property
    def roots(self) -> list[int]:
        """Return the root pids whose process trees count as this system."""
        return [p.pid for p in self.procs] + self.extra_roots

    def stream_request(self, tenant: dict, user: list, last: int = 0) -> bytes:
        """Return the raw HTTP request opening ``user``'s stream."""
        raise NotImplementedError

    def publish(self, tenant: dict, user_id: int | None, seq: int) -> tuple[str, bytes, dict]:
        """Return (path, body, headers) of a POST to one user, or the tenant when None."""
        raise NotImplementedError

    def stop(self) -> None:
        """Terminate the processes."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class Floor(System):
    """The bare gevent SSE server in bench/floor.py."""

    name = "floor"

    def start(self) -> None:
        """Start it and make up the same tenants and user ids Notifier gets."""
        self.command = f"{Path(PY).name} -m bench.floor PORT"
        self.procs.append(subprocess.Popen([PY, "-m", "bench.floor", str(self.port)], cwd=ROOT))
        wait_port(self.port, self.procs[0])
        uid = 0
        for t, size in enumerate(self.sizes):
            users = [[uid + i + 1, ""] for i in range(size)]
            uid += size
            self.tenants.append({"id": t + 1, "admin_token": "", "users": users})

    def stream_request(self, tenant: dict, user: list, last: int = 0) -> bytes:
        """GET /stream?user=&tenant= (no auth)."""
        resume = f"Last-Event-ID: {last}\r\n" if last else ""
        return (
            f"GET /stream?user={user[0]}&tenant={tenant['id']} HTTP/1.0\r\n"
            f"Host: 127.0.0.1\r\n{resume}\r\n"
        ).encode()

    def publish(self, tenant: dict, user_id: int | None, seq: int) -> tuple[str, bytes, dict]:
        """POST /publish."""
        doc: dict = {"tenant": tenant["id"]} if user_id is None else {"user_id": user_id}
        doc["title"] = f"b{seq}"
        return "/publish", json.dumps(doc).encode(), {"Content-Type": "application/json"}


class Notifier(System):
    """Notifier itself: ``python app.py`` on SQLite, or gunicorn + Redis + PostgreSQL."""

    name = "notifier"

    def env(self) -> dict[str, str]:
        """Return the server environment: publish limit lifted, room for 10,000 streams."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "REDIS"))}
        env.update(
            SECRET_KEY="bench-secret",
            DATABASE_URL=f"sqlite:///{self.tmp / 'bench.sqlite'}",
            NOTIFIER_RATE_LIMIT_PUBLISH="1000000/second",
            NOTIFIER_MAX_CONNECTIONS="12000",
            NOTIFIER_LOG_FORMAT="text",
            PYTHONUNBUFFERED="1",
        )
        return env

    def prepare(self, env: dict[str, str]) -> None:
        """Migrate and seed the database."""
        flask = [PY, "-m", "flask", "--app", "app", "init-db"]
        subprocess.run(flask, cwd=APP_ROOT, env=env, check=True, capture_output=True)
        out = subprocess.run(
            [PY, "-m", "bench.seed", *map(str, self.sizes)],
            cwd=APP_ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            check=True,
            capture_output=True,
        )
        self.tenants = json.loads(out.stdout)["tenants"]

    def start(self) -> None:
        """Seed, then serve one process."""
        env = self.env()
        self.prepare(env)
        self.command = (
            "python app.py --port PORT  (SQLite, NOTIFIER_RATE_LIMIT_PUBLISH=1000000/second)"
        )
        log = open(self.tmp / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
        self.procs.append(
            subprocess.Popen(
                [PY, "app.py", "--port", str(self.port)],
                cwd=APP_ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        )
        wait_port(self.port, self.procs[0])

    def stream_request(self, tenant: dict, user: list, last: int = 0) -> bytes:
        """GET the JSON stream with the user's stream token."""
        resume = f"Last-Event-ID: {last}\r\n" if last else ""
        return (
            f"GET /api/v1/notifications/stream?token={user[1]} HTTP/1.0\r\n"
            f"Host: 127.0.0.1\r\nAccept: text/event-stream\r\n{resume}\r\n"
        ).encode()

    def publish(self, tenant: dict, user_id: int | None, seq: int) -> tuple[str, bytes, dict]:
        """POST /api/v1/notifications as the tenant's admin."""
        doc: dict = {"tenant": True} if user_id is None else {"user_id": user_id}
        doc.update(type="system", title=f"b{seq}", channels=["in_app"])
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {tenant['admin_token']}",
        }
        return "/api/v1/notifications", json.dumps(doc).encode(), headers


class Gunicorn(Notifier):
    """gunicorn with N gevent workers, the Redis bus and PostgreSQL (private servers)."""

    name = "gunicorn"
    parallel_connects = 16

    def __init__(self, sizes: list[int], workers: int) -> None:
        super().__init__(sizes)
        self.workers = workers
        self.name = f"gunicorn ×{workers}"

    def start(self) -> None:
        """Start PostgreSQL and redis-server the way the test fixtures do, then gunicorn."""
        sys.path.insert(0, str(ROOT))
        from tests.fixtures_postgres import PostgresServer
        from tests.fixtures_redis import RedisServer

        self.pg = PostgresServer()
        self.pg.start()
        self.redis = RedisServer(self.tmp)
        self.redis.start()
        pm = (self.pg.datadir / "postmaster.pid").read_text().split()[0]
        self.extra_roots = [int(pm), self.redis.proc.pid]  # type: ignore[union-attr]
        env = self.env()
        env.update(DATABASE_URL=self.pg.url(self.pg.create_database()), REDIS_URL=self.redis.url)
        # Every connect holds a pooled connection while it authenticates and reads its
        # opening: 64 at once exhausted 5 + 10 per worker and a stream got a 500 after 30 s.
        env.update(NOTIFIER_DB_POOL_SIZE="20", NOTIFIER_DB_MAX_OVERFLOW="10")
        self.prepare(env)
        self.command = (
            f"gunicorn -w {self.workers} -k gevent --worker-connections 12000 app:app "
            "(PostgreSQL + Redis, NOTIFIER_RATE_LIMIT_PUBLISH=1000000/second)"
        )
        log = open(self.tmp / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
        args = [PY, "-m", "gunicorn", "-w", str(self.workers), "-k", "gevent"]
        args += ["--worker-connections", "12000", "-b", f"127.0.0.1:{self.port}", "app:app"]
        self.procs.append(subprocess.Popen(args, cwd=APP_ROOT, env=env, stdout=log, stderr=log))
        wait_port(self.port, self.procs[0])
        # The arbiter binds before it forks: wait until every worker process exists.
        deadline = time.monotonic() + 60
        while len(children(self.procs[0].pid)) < self.workers + 1:
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn workers did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop gunicorn, then Redis and PostgreSQL."""
        super().stop()
        self.redis.stop()
        self.pg.stop()
