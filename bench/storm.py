"""Run the resume storm alone: N streams hold a cursor, drop, miss 5 broadcasts, come back at once.

``python -m bench.storm [--streams 5000] [--missed 5]``: ``python app.py`` on SQLite as `make
bench` starts it (``BENCH_APP_ROOT`` picks another checkout, for a before/after pair), then
prints the catch-up time, the server's CPU seconds over the storm and CPU µs per resume,
and the lost/duplicated counts of the same referee as the full run (bench/scenarios.py).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.client import raise_nofile, wait_for
from bench.procstat import cpu_delta
from bench.scenarios import Plan, Run
from bench.systems import Notifier


async def storm(run: Run, missed: int) -> dict[str, float]:
    """Open every stream, give it a cursor, drop them, broadcast, reopen all; return figures."""
    a = run.system.tenants[0]
    await run.warm_up(a)
    streams = await run.open(a, a["users"])
    first = await run.post(0, a, None)
    await run.settle([first], len(streams))
    lasts = [s.last for s in streams]
    for s in streams:
        s.close()
    seqs = [await run.post(0, a, None) for _ in range(missed)]
    cpu0, start = run.meter.cpu(), time.perf_counter()
    back = await run.open(a, a["users"], lasts)
    want = missed * len(back)
    run.expected += want
    await wait_for(lambda: sum(s.received for s in back) >= want, run.plan.wait)
    done, cpu = time.perf_counter() - start, cpu_delta(cpu0, run.meter.cpu())
    got = sum(len(run.arrivals.got.get(s, ())) for s in [first, *seqs])
    out = {
        "resume_s": done,
        "cpu_s": cpu,
        "cpu_per_resume_us": cpu / max(len(back), 1) * 1e6,
        "lost": max(0, run.expected - got),
        "duplicated": sum(s.dups for s in run.streams),
        "failed_streams": run.failed_streams,
    }
    for s in run.streams:
        s.close()
    for http in run.http:
        http.close()
    return out


def main() -> None:
    """Start the server, run the storm, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=5000)
    parser.add_argument("--missed", type=int, default=5)
    args = parser.parse_args()
    raise_nofile()
    system = Notifier([args.streams])
    system.start()
    try:
        print(asyncio.run(storm(Run(system, Plan(sizes=[args.streams])), args.missed)))
    finally:
        system.stop()


if __name__ == "__main__":
    main()
