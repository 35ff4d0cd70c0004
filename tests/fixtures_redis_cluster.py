"""A real 3-primary Redis Cluster on loopback ports for the tests (a pytest plugin module).

Each node is ``redis-server --cluster-enabled yes`` with its own config file in a temporary
directory; ``redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`` joins them.
A node can be SIGKILLed and restarted on the same port with the same nodes.conf, so it
comes back owning the same slots (what a process crash and a supervisor restart look like).
Sharded pub/sub needs Redis 7; an older or missing redis-server fails the run (never skips).
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import redis

MISSING = (
    "redis-server and redis-cli 7+ are needed for the Redis Cluster tests; install the "
    "Debian/Ubuntu packages `redis-server` and `redis-tools` (apt-get install redis-server)"
)


def free_port() -> int:
    """Return a TCP port free right now on 127.0.0.1 (its +10000 bus port is assumed free)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 < 65536:  # the cluster bus listens on port + 10000
            return port


def redis_major() -> int:
    """Return the installed redis-server's major version (0 when it is missing)."""
    exe = shutil.which("redis-server")
    if exe is None:
        return 0
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"v=(\d+)\.", out)
    return int(found.group(1)) if found else 0


class ClusterNode:
    """One cluster-enabled redis-server on a fixed loopback port."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """Return ``127.0.0.1:port``."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Launch the node (same nodes.conf as before, if any) and wait for PING."""
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf"]
        args += ["--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        args += ["--logfile", str(self.directory / f"redis-{self.port}.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(self._answers, f"node {self.address} to answer PING", proc=self.proc)

    def _answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def client(self) -> redis.Redis:
        """Return a plain client to this node; the caller closes it."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)

    def cluster_ok(self) -> bool:
        """Return True when this node reports cluster_state:ok."""
        try:
            with self.client() as client:
                return client.execute_command("CLUSTER INFO").get("cluster_state") == "ok"
        except (redis.RedisError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL the node: clients see their connections drop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None


class RedisClusterServers:
    """Three primaries covering all 16384 slots."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.nodes = [ClusterNode(directory, free_port()) for _ in range(3)]

    @property
    def url(self) -> str:
        """Return the broker URL naming every node as a seed."""
        return "redis+cluster://" + ",".join(n.address for n in self.nodes)

    def start(self) -> None:
        """Start the nodes, create the cluster and wait until every node reports it ok."""
        for node in self.nodes:
            node.start()
        out = subprocess.run(
            ["redis-cli", "--cluster", "create", *(n.address for n in self.nodes)]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{out.stdout}\n{out.stderr}")
        self.wait_ok()

    def wait_ok(self) -> None:
        """Wait until every node reports cluster_state:ok."""
        wait_for(lambda: all(n.cluster_ok() for n in self.nodes), "cluster_state:ok everywhere")

    def node_for(self, channel: str) -> ClusterNode:
        """Return the node whose slots hold ``channel``."""
        slot = int(redis.crc.key_slot(channel.encode()))
        with self.nodes[0].client() as client:
            for start, end, primary, *_ in client.execute_command("CLUSTER SLOTS"):
                if int(start) <= slot <= int(end):
                    port = int(primary[1])
                    return next(n for n in self.nodes if n.port == port)
        raise LookupError(channel)

    def stop(self) -> None:
        """Kill every node."""
        for node in self.nodes:
            node.kill()


def wait_for(
    predicate: object, what: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``predicate`` cooperatively until true; raise naming ``what`` at the deadline."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"redis-server exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        gevent.sleep(0.05)  # cooperative: a broker's shard readers keep running


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """Yield one 3-primary cluster for the session; fail (not skip) without Redis 7+."""
    if redis_major() < 7 or shutil.which("redis-cli") is None:
        pytest.fail(MISSING, pytrace=False)
    servers = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisClusterServers) -> str:
    """Return the cluster URL, every node running (restarted if a test killed one)."""
    for node in redis_cluster.nodes:
        if node.proc is None or node.proc.poll() is not None:
            node.start()
    redis_cluster.wait_ok()
    return redis_cluster.url
