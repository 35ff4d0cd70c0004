"""Measure what idle sockets do to `python app.py`: how many it holds, and /healthz meanwhile.

Starts `python app.py` from ``--checkout`` (default: this one) on a fresh SQLite database, opens
``--sockets`` connections that send ``GET / HTTP/1.1\\r\\nHost: x\\r\\n`` and never finish the
headers, then reports: how many the server answered 503 or closed within 1 s (refused), how
many it still holds after 1 s and after ``--hold`` seconds, and /healthz latency (fresh
connection each) while they are held. Any other NOTIFIER_* setting comes from the environment.

    .venv/bin/python scripts/idle_sockets.py --sockets 2000 --hold 15
    git archive <old commit> | tar -x -C /tmp/old && \\
        .venv/bin/python scripts/idle_sockets.py --checkout /tmp/old --sockets 2000 --hold 15
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTIAL = b"GET / HTTP/1.1\r\nHost: x\r\n"


def free_port() -> int:
    """Return a TCP port that is free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthz(port: int, timeout: float = 10) -> tuple[int, float]:
    """GET /healthz on a new connection; return (status or 0 on failure, seconds)."""
    start = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        status = int(data.split()[1]) if data.startswith(b"HTTP/") else 0
    except OSError:
        status = 0
    return status, time.perf_counter() - start


def still_open(socks: list[socket.socket]) -> list[socket.socket]:
    """Return the sockets the server has not closed (nothing readable, or data but no EOF)."""
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    closed = set()
    for fd, _ in poller.poll(0):
        try:
            data = by_fd[fd].recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data or b"503" in data.split(b"\r\n", 1)[0]:
            closed.add(fd)
    return [s for fd, s in by_fd.items() if fd not in closed]


def main() -> int:
    """Run the measurement and print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=15.0)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--server-nofile", type=int, help="the server's open-files limit")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SECRET_KEY": "bench",
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
            "PYTHONUNBUFFERED": "1",
        }
        flask = [sys.executable, "-m", "flask", "--app", "app", "init-db"]
        subprocess.run(flask, cwd=args.checkout, env=env, check=True, capture_output=True)
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "app.py", "--port", str(port)]
        nofile = args.server_nofile

        def limit_fds() -> None:
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        proc = subprocess.Popen(
            cmd, cwd=args.checkout, env=env, stdout=log, stderr=log, preexec_fn=limit_fds
        )
        try:
            deadline = time.monotonic() + 30
            while healthz(port, 1)[0] != 200:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.1)
            print(f"checkout={args.checkout} sockets={args.sockets} server_nofile={nofile}")
            socks: list[socket.socket] = []
            opened_at = time.monotonic()
            for _ in range(args.sockets):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(PARTIAL)
                socks.append(s)
            print(f"opened {len(socks)} partial requests in {time.monotonic() - opened_at:.1f} s")
            probes = [healthz(port) for _ in range(args.probes)]
            ok = [t for status, t in probes if status == 200]
            print(
                f"/healthz while held: {len(ok)}/{len(probes)} answered 200, statuses "
                f"{sorted({status for status, _ in probes})}, median "
                f"{statistics.median(t for _, t in probes) * 1000:.1f} ms, "
                f"max {max(t for _, t in probes) * 1000:.1f} ms"
            )
            time.sleep(max(0.0, opened_at + 1 - time.monotonic()))
            held = still_open(socks)
            print(
                f"after {time.monotonic() - opened_at:.0f} s: {len(socks) - len(held)} refused "
                f"or closed, {len(held)} held"
            )
            time.sleep(max(0.0, opened_at + args.hold - time.monotonic()))
            held = still_open(held)
            print(f"after {time.monotonic() - opened_at:.0f} s: {len(held)} still held")
            status, took = healthz(port)
            print(f"/healthz then: {status} in {took * 1000:.1f} ms")
            for s in socks:
                s.close()
            errors = (Path(tmp) / "server.log").read_text(errors="replace").count("Too many open")
            print(f"'Too many open files' in the server log: {errors}")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
