"""A real nginx in front of a test server, configured as docs/deployment.md §4 says.

What matters for the restart tests is the upstream keep-alive pool (``keepalive 64``,
``keepalive_timeout 4s``, ``proxy_http_version 1.1``, ``Connection ""``): nginx reuses idle
connections to gunicorn for the next request, whichever worker holds them, a draining one
included. The WebSocket location is read from docs/deployment.md itself (:func:`ws_location`).
Plain HTTP on 127.0.0.1 (TLS and HTTP/2 are not what is tested here). A missing nginx fails
the test (never skips): install the Debian package ``nginx``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.fixtures_live import free_port

DEPLOYMENT = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"

MISSING = "nginx is not on PATH; install the Debian/Ubuntu package `nginx`"

CONF = """\
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream notifier {{
        server 127.0.0.1:{upstream} max_fails=0;
        keepalive 64;
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        location ~ ^/(api/v1/notifications/stream|stream)$ {{
            proxy_pass http://notifier;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
            gzip off;
        }}
{ws_location}
        location / {{
            proxy_pass http://notifier;
        }}
    }}
}}
"""


def ws_location() -> str:
    """Return docs/deployment.md's WebSocket ``location`` block verbatim (tested as documented).

    Taken from the document rather than copied, so a change to the documented block is what
    tests/test_ws_redis.py runs behind nginx.
    """
    text = DEPLOYMENT.read_text()
    found = re.search(r"^( *)location = /api/v1/notifications/ws \{\n.*?^\1\}$", text, re.M | re.S)
    if found is None:
        raise RuntimeError(f"no WebSocket location block in {DEPLOYMENT}")
    return found.group(0)


class NginxProxy:
    """One nginx process proxying 127.0.0.1:``port`` to ``upstream_port``."""

    def __init__(self, directory: Path, upstream_port: int) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstream_port = upstream_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15) -> NginxProxy:
        """Write the configuration, start nginx in the foreground and wait for its port."""
        exe = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
        if exe is None:
            raise RuntimeError(MISSING)
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "nginx.conf"
        # As root, nginx would switch its workers to "nobody", who cannot write the temp dirs.
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(
            CONF.format(
                user=user,
                dir=self.directory,
                port=self.port,
                upstream=self.upstream_port,
                ws_location=ws_location(),
            )
        )
        cmd = [exe, "-p", str(self.directory), "-c", str(conf), "-g", "daemon off;"]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=open(self.directory / "stderr.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx not listening in {timeout}s: {self.log()}")

    def log(self) -> str:
        """Return nginx's error log and stderr."""
        out = ""
        for name in ("error.log", "stderr.log"):
            path = self.directory / name
            if path.exists():
                out += path.read_text(errors="replace")
        return out

    def stop(self) -> None:
        """Stop nginx (SIGTERM: a fast shutdown, open streams are cut; SIGKILL if it lingers)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
