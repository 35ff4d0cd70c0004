"""Run a real, private redis-server for the tests (a pytest plugin module).

The server listens only on a unix socket in a temporary directory (``--port 0``), keeps
nothing on disk, and can be SIGKILLed and restarted on the same socket path to test
reconnects. A missing redis-server fails the run (never skips): install the Debian
package ``redis-server``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import redis

MISSING = (
    "redis-server is not on PATH; install the Debian/Ubuntu package `redis-server` "
    "(apt-get install redis-server)"
)


class RedisServer:
    """Start, kill and restart one redis-server subprocess on a fixed unix socket."""

    def __init__(self, directory: Path) -> None:
        # A unix socket path must fit in 108 bytes; fall back to a short temp dir.
        if len(str(directory / "redis.sock")) > 100:
            directory = Path(tempfile.mkdtemp(prefix="notifier-redis-"))
        self.directory = directory
        self.socket_path = directory / "redis.sock"
        self.log_path = directory / "redis.log"
        self.url = f"unix://{self.socket_path}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Return True while the subprocess is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Launch redis-server and return once it answers PING."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(MISSING)
        args = [exe, "--port", "0", "--unixsocket", str(self.socket_path)]
        args += ["--unixsocketperm", "700", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.directory), "--logfile", str(self.log_path)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited at start-up:\n{self._log_tail()}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, OSError):
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"redis-server not ready in {timeout}s:\n{self._log_tail()}")
                gevent.sleep(0.02)  # cooperative, so a broker's listener keeps running meanwhile
        finally:
            client.close()

    def stop(self) -> None:
        """Terminate redis-server (SIGTERM, then SIGKILL after 5 s)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL redis-server: clients see their connections drop mid-stream."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Start again on the same socket path (stopping first if still running)."""
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        """Return a plain client for assertions; the caller closes it."""
        return redis.Redis(unix_socket_path=str(self.socket_path), socket_connect_timeout=1)

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Yield one redis-server for the whole session; fail (not skip) when it is missing."""
    if shutil.which("redis-server") is None:
        pytest.fail(MISSING, pytrace=False)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """Return the server's unix:// URL with an empty database (restarted if a test killed it)."""
    if not redis_server.running:
        redis_server.start()
    client = redis_server.client()
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url
