"""The servers of the deployment, one class each: redis-server, a gunicorn "host", nginx.

nginx gets deployment.md section 4's configuration (plain HTTP on a private port); gunicorn
runs deployment.md section 3's command from the checkout under test.
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
from pathlib import Path


def free_port() -> int:
    """Return a TCP port that is free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:  # noqa: ANN001
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def http_status(url: str, timeout: float = 2.0, headers: dict[str, str] | None = None) -> int:
    """Return the status of a GET (0 when nothing answered)."""
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - our own http URLs
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


class Redis:
    """redis-server on 127.0.0.1:port, nothing on disk; killed and restarted on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it answers PING."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not on PATH (apt-get install redis-server)")
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir)]
        args += ["--logfile", str(self.workdir / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not wait_until(self.ping, 15):
            raise RuntimeError("redis-server did not answer PING")

    def ping(self) -> bool:
        """Return True when the server answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server: every client's connection drops at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Gunicorn:
    """One "host": a gunicorn master with two gevent workers on its own port."""

    def __init__(self, name: str, checkout: Path, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.checkout = checkout
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"gunicorn-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """Return deployment.md's command with the harness's port."""
        return [
            sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "2",
            "-c", "gunicorn.conf.py",
            "--bind", f"127.0.0.1:{self.port}",
            "--timeout", "30", "--graceful-timeout", "5", "--keep-alive", "5",
            "--forwarded-allow-ips", "127.0.0.1",
            "--error-logfile", "-", "--log-level", "info",
            "app:app",
        ]  # fmt: skip

    def start(self, timeout: float = 90) -> None:
        """Start the master and wait until both workers are up and /healthz answers."""
        self.launch()
        self.wait_started(timeout)

    def launch(self) -> None:
        """Start the master without waiting."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            self.command(), cwd=self.checkout, env=self.env, stdout=log, stderr=log
        )
        log.close()

    def wait_started(self, timeout: float = 90) -> None:
        """Wait until both workers are up and /healthz answers."""
        ok = wait_until(
            lambda: self.alive() and len(self.workers()) == 2 and self.healthy(), timeout, 0.2
        )
        if not ok:
            raise RuntimeError(f"gunicorn {self.name} did not start:\n{self.log_tail()}")

    def alive(self) -> bool:
        """Return True while the master runs."""
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        """Return True when /healthz answers 200."""
        return http_status(self.url + "/healthz", 1.0) == 200

    def workers(self) -> list[int]:
        """Return the pids of the master's children (the workers)."""
        if not self.alive():
            return []
        assert self.proc is not None
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the master."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 20) -> float:
        """SIGTERM the master, wait for it to exit (SIGKILL after ``timeout``); return seconds."""
        t = time.monotonic()
        if self.proc is None:
            return 0.0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return time.monotonic() - t

    def log_text(self) -> str:
        """Return the instance's log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the log."""
        return "\n".join(self.log_text().splitlines()[-lines:])


NGINX_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format notifier '$remote_addr [$time_local] "$request_method $uri $server_protocol" '
                        '$status $body_bytes_sent $request_time $upstream_addr';
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;

    upstream notifier {{
{servers}
        keepalive 64;
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 1m;
        access_log {dir}/nginx-access.log notifier;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;

        location ~ ^/(api/v1/notifications/stream|stream)$ {{
            proxy_pass http://notifier;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            gzip off;
        }}

        location = /metrics {{
            return 404;
        }}

        location / {{
            proxy_pass http://notifier;
        }}
    }}
}}
"""


class Nginx:
    """nginx with deployment.md's configuration (plain HTTP on a private port)."""

    def __init__(self, workdir: Path, upstreams: list[int], server_params: str = "") -> None:
        self.dir = workdir / "nginx"
        self.server_params = server_params
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstreams = upstreams
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Write the configuration, start nginx in the foreground and wait for its port."""
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        for path in (self.dir, self.dir / "tmp", *(self.dir / "tmp").iterdir()):
            # nginx's workers run as nobody when the master is root.
            os.chmod(path, 0o777)  # noqa: S103
        params = f" {self.server_params}" if self.server_params else ""
        servers = "\n".join(f"        server 127.0.0.1:{p}{params};" for p in self.upstreams)
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port, servers=servers))
        self.proc = subprocess.Popen(
            [exe, "-p", str(self.dir), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "ab"),  # noqa: SIM115
        )
        if not wait_until(lambda: http_status(self.url + "/healthz") == 200, 15):
            raise RuntimeError("nginx did not come up: " + (self.dir / "stderr.log").read_text())

    def stop(self) -> None:
        """Stop nginx (SIGQUIT would wait for open streams; SIGTERM is fast)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
