"""Run `make bench`: the floor and Notifier (SQLite), then gunicorn + Redis + PostgreSQL.

Usage: ``python -m bench [--skip-gunicorn] [--json FILE] [--out docs/benchmarks.md]``.
Loopback only, bounded waits, about 6 minutes on 2 shared cores. The micro-benchmarks of
``notify()`` and the hub are ``python -m bench.micro``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.client import raise_nofile
from bench.report import render, write
from bench.scenarios import Plan, run
from bench.systems import Floor, Gunicorn, Notifier

# The test suite's run (tests/test_bench_smoke.py): every scenario, tiny, counts only.
SMOKE = Plan(
    sizes=[3, 4, 2],
    posters=2,
    paced_n=10,
    paced_rate=50,
    sustained_n=20,
    broadcasts_small=2,
    broadcasts_big=2,
    missed=5,
    wait=30,
)


def main() -> int:
    """Run every system and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-gunicorn", action="store_true")
    parser.add_argument(
        "--only", choices=["floor", "notifier", "gunicorn"], help="run one system (no report)"
    )
    parser.add_argument(
        "--merge", type=Path, help="an earlier --json: its other systems go in the report"
    )
    parser.add_argument("--quick", action="store_true", help="1,000 streams, no hold or storm")
    parser.add_argument(
        "--smoke", action="store_true", help="a few streams and messages, no report"
    )
    parser.add_argument("--json", type=Path, help="also dump every figure here")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    nofile = raise_nofile()
    if nofile < 10_500:
        print(
            f"warning: open-files limit {nofile} is below 10,500; streams will fail",
            file=sys.stderr,
        )
    plan = SMOKE if args.smoke else Plan(sizes=[1000], full=False) if args.quick else Plan()
    results: dict[str, dict] = {}
    commands: dict[str, str] = {}
    systems = [Floor(plan.sizes), Notifier(plan.sizes)]
    if args.only:
        systems = [s for s in systems if s.name == args.only]
    if args.merge:
        earlier = json.loads(args.merge.read_text())
        commands.update(earlier.pop("_commands", {}))
        results.update(earlier)
    for system in systems:
        started = time.monotonic()
        results[system.name] = run(system, plan)
        commands[system.name] = system.command
        print(
            f"{system.name}: {time.monotonic() - started:.0f}s {results[system.name]}", flush=True
        )
    if not args.skip_gunicorn and args.only in (None, "gunicorn") and not args.smoke:
        for workers, p in ((2, plan), (1, Plan(sizes=[1000], full=False))):
            system = Gunicorn(p.sizes, workers)
            started = time.monotonic()
            results[system.name] = run(system, p)
            commands[system.name] = system.command
            print(
                f"{system.name}: {time.monotonic() - started:.0f}s {results[system.name]}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps({**results, "_commands": commands}, indent=2))
    if (args.only and not args.merge) or args.smoke:
        return 0
    sections = [
        (
            "Notifier (`python app.py`, SQLite) against the floor, same run",
            [
                ("floor", commands.get("floor", ""), results["floor"]),
                ("Notifier", commands.get("notifier", ""), results["notifier"]),
            ],
            (1, 0),
        )
    ]
    extra: list[str] = []
    if "gunicorn ×2" in results:
        two, one = results["gunicorn ×2"], results["gunicorn ×1"]
        sections.append(
            (
                "gunicorn (2 gevent workers) + Redis + PostgreSQL",
                [
                    ("gunicorn ×2", commands.get("gunicorn ×2", ""), two),
                    ("gunicorn ×1", commands.get("gunicorn ×1", ""), one),
                ],
                None,
            )
        )
        scale = two["sustained_per_s"] / one["sustained_per_s"]
        extra.append(f"2 workers sustain ×{scale:.2f} one worker's targeted rate (target ≥ ×1.7).")
        extra.append("")
    extra.append(
        "CPU is user + system time from `/proc/<pid>/stat` of every server process (gunicorn's"
        " arbiter and workers, redis-server, the PostgreSQL postmaster and its backends), memory"
        " the PSS sum from `/proc/<pid>/smaps_rollup` at the stream count shown minus before any"
        " stream, both over the same scenario for every system. The client is `bench/client.py`"
        " (one asyncio process, one incremental parser per raw-socket stream)."
    )
    labels = {
        "held": f"{plan.sizes and sum(plan.sizes):,}",
        "b": f"{plan.sizes[1]:,}" if len(plan.sizes) > 1 else "—",  # --quick has one size
        "missed": plan.missed,
    }
    write(args.out, render(sections, labels, extra))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
