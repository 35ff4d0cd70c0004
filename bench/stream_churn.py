"""Measure how far the reported stream count runs above the real one under churn (issue 8 item 7).

Usage::

    python -m bench.stream_churn --url http://127.0.0.1:5000 --token TOKEN \
        [--streams 100] [--seconds 30] [--rate 10]

Against a running server (one process, so /api/v1/notifications/stream/connections counts all
of it; the token's user needs NOTIFIER_MAX_CONNECTIONS_PER_USER above ``--streams``). It holds
``--streams`` raw-socket streams, and ``--rate`` times a second closes one of them (FIN and RST
alternately, with nothing pending from the server) and opens a new one, so the real number
stays constant. Every second it samples the server's ``mine`` count; it prints the real count,
the reported mean and max, and the overcount in percent.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import struct
import time
import urllib.request
from urllib.parse import urlsplit

STREAM = "/api/v1/notifications/stream"


def open_stream(host: str, port: int, token: str) -> socket.socket:
    """Open one stream and read its response head (200 expected)."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(
        f"GET {STREAM} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("stream closed before its head")
        head += chunk
    status = int(head.split(b" ", 2)[1])
    if status != 200:
        raise RuntimeError(f"stream refused: {status}")
    return sock


def close(sock: socket.socket, reset: bool) -> None:
    """Close with a FIN, or with an RST as a crashed client would."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def reported(url: str, token: str) -> int:
    """Return the server's count of the token user's streams."""
    if not url.startswith(("http://", "https://")):
        raise SystemExit("--url must be http:// or https://")
    req = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url + STREAM + "/connections", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        return int(json.loads(r.read())["mine"])


def main() -> None:
    """Churn streams and print real versus reported counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10, help="closes (and opens) per second")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    socks = [open_stream(host, port, args.token) for _ in range(args.streams)]
    time.sleep(1)  # the preambles are written: nothing is pending from the server any more
    samples: list[int] = []
    closes = 0
    start = time.monotonic()
    next_sample = start + 1
    while time.monotonic() - start < args.seconds:
        victim = socks.pop(random.randrange(len(socks)))
        close(victim, reset=closes % 2 == 1)
        closes += 1
        socks.append(open_stream(host, port, args.token))
        now = time.monotonic()
        if now >= next_sample:
            samples.append(reported(args.url, args.token))
            next_sample = now + 1
        time.sleep(max(0.0, 1 / args.rate - (time.monotonic() - now)))
    real = len(socks)
    mean, peak = statistics.mean(samples), max(samples)
    print(
        f"streams={real} closes={closes} in {args.seconds:.0f}s samples={len(samples)} "
        f"reported mean={mean:.1f} max={peak} overcount mean={100 * (mean - real) / real:.1f}% "
        f"max={100 * (peak - real) / real:.1f}%"
    )
    for sock in socks:
        sock.close()


if __name__ == "__main__":
    main()
