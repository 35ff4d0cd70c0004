"""Run the fault harness: ``.venv/bin/python -m scripts.faults [--faults a,b,c,d,e,f]``.

Deploys PostgreSQL, Redis, two gunicorn hosts and nginx from ``--checkout`` (default: this
tree), opens ``--clients`` SSE streams through the front door, POSTs at ``--rate`` per second,
injects each fault in turn, waits for the streams to settle and prints one Markdown row per
fault. Exit status 0 when every fault held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from scripts.faults.accounting import Recording, deliveries, lost_posts
from scripts.faults.load import Poster, Recorder, StreamClient
from scripts.faults.report import compare_table, format_table, post_latency
from scripts.faults.scenarios import Run, baseline, expand
from scripts.faults.services import wait_until
from scripts.faults.stack import Stack

ROOT = Path(__file__).resolve().parents[2]


def log(msg: str) -> None:
    """Print a progress line with the wall-clock time."""
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def stored_twice(stack: Stack, rec: Recorder) -> dict[str, int]:
    """Return {title: rows} for harness titles stored more than once (a duplicated POST)."""
    rows = stack.psql(
        "SELECT title, count(*) FROM notifications GROUP BY title HAVING count(*) > 1"
    )
    titles = {p.title for p in rec.posts}
    return {t: n for t, n in rows if t in titles}


def settle(rec: Recorder, timeout: float) -> float:
    """Wait until every 201 reached every stream of its recipient (or ``timeout``)."""
    t = time.monotonic()

    def done() -> bool:
        return not lost_posts(rec.posts, rec.clients, deliveries(rec.receipts))

    wait_until(done, timeout, 0.5)
    return time.monotonic() - t


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the faults, print the table."""
    ap = argparse.ArgumentParser(
        prog="python -m scripts.faults", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--faults", default="a,b,c,d,e,f", help="comma list of a,b,c,d (d1,d2),e,f")
    ap.add_argument("--checkout", type=Path, default=ROOT, help="source tree the servers run from")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20.0, help="POSTs per second")
    ap.add_argument("--settle", type=float, default=35.0, help="seconds to wait for stragglers")
    ap.add_argument("--no-nginx", action="store_true", help="clients fail over between hosts")
    ap.add_argument(
        "--upstream-params",
        default="max_fails=0",
        help="appended to each nginx upstream `server` line; the default is docs/deployment.md's "
        "(pass '' for nginx's own max_fails=1, which fails rolling restarts)",
    )
    ap.add_argument("--record", type=Path, help="write everything recorded here (JSON)")
    ap.add_argument("--replay", type=Path, help="print the table of a --record file; run nothing")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument(
        "--compare", type=Path, nargs="+", help="print one table of several --record files"
    )
    args = ap.parse_args(argv)
    if args.compare:
        runs = [Recording.load(json.loads(p.read_text())) for p in args.compare]
        for i, r in enumerate(runs, 1):
            p50, p95 = post_latency(r.posts, r.phases[0])
            print(
                f"{i}. {r.meta.get('checkout')}; {r.meta.get('when')}; load average "
                f"{r.meta.get('loadavg')}; baseline POST p50 {p50 * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms"
            )
        print(compare_table([r.rows() for r in runs]))
        return 0
    if args.replay:
        recording = Recording.load(json.loads(args.replay.read_text()))
        print_table(recording)
        return 0 if all(r.held for r in recording.rows()) else 1
    checkout = args.checkout.resolve()
    if not (checkout / "app.py").is_file():
        ap.error(f"{checkout} has no app.py")
    use_nginx = not args.no_nginx
    if use_nginx and not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        ap.error("nginx not found: apt-get install -y nginx, or pass --no-nginx")

    workdir = Path(tempfile.mkdtemp(prefix="notifier-faults-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the postgres and nginx users read below it
    started = time.monotonic()
    log(f"checkout {checkout} ({_revision(checkout)}), work dir {workdir}")
    stack = Stack(checkout, workdir, nginx=use_nginx, upstream_params=args.upstream_params)
    rec = Recorder()
    streams: list[StreamClient] = []
    ok = False
    try:
        stack.start(log)
        members = sorted(stack.member_tokens)
        for i in range(args.clients):
            user = members[i % len(members)]
            streams.append(StreamClient(i, user, stack.member_tokens[user], stack.fronts, rec))
        for s in streams:
            s.start()
        if not all(s.connected.wait(60) for s in streams):
            raise RuntimeError("not every stream connected within 60 s")
        log(f"{len(streams)} streams open through {stack.fronts[0]}")
        poster = Poster(stack.fronts, stack.admin_token, members, rec, args.rate)
        poster.start()
        run = Run(stack, rec, poster, log)
        phases = [baseline(run)]
        for scenario in expand([f.strip() for f in args.faults.split(",") if f.strip()]):
            phases.append(scenario(run))
        poster.tag = "tail"
        poster.stopping.set()
        poster.join(120)
        took = settle(rec, args.settle)
        log(f"load stopped; settled in {took:.1f} s")
        for s in streams:
            s.stopping.set()
        recording = Recording(
            phases, rec.posts, rec.receipts, rec.cuts, rec.connects, rec.clients,
            stored_twice(stack, rec),
            {
                "checkout": f"{checkout} at {_revision(checkout)}",
                "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load": f"{args.clients} SSE clients ({len(members)} users) and {args.rate:g} "
                f"POST/s through {'nginx' if use_nginx else 'the hosts directly'}"
                f"{' (server … ' + args.upstream_params + ')' if args.upstream_params else ''}; "
                "2 hosts x gunicorn -k gevent -w 2",
                "seconds": round(time.monotonic() - started),
                "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
            },
        )  # fmt: skip
        (args.record or workdir / "recording.json").write_text(json.dumps(recording.dump()))
        print_table(recording)
        print(f"logs in {workdir}")
        ok = all(r.held for r in recording.rows())
        return 0 if ok else 1
    finally:
        for s in streams:
            s.stopping.set()
        stack.stop()
        if not args.keep and ok:
            shutil.rmtree(workdir, ignore_errors=True)


def print_table(recording: Recording) -> None:
    """Print the run's header lines and its table."""
    meta = recording.meta
    print()
    print(f"checkout {meta.get('checkout')}; {meta.get('when')}")
    print(f"{meta.get('load')}; run {meta.get('seconds')} s, load average {meta.get('loadavg')}")
    print(format_table(recording.rows()))


def _revision(checkout: Path) -> str:
    """Return the checkout's git revision, or 'no git' for an exported tree."""
    head = checkout / ".git"
    if not head.exists():
        return "exported tree"
    import subprocess

    out = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%h %s"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return out.stdout.strip()[:70] or "unknown"


if __name__ == "__main__":
    sys.exit(main())
