"""Profile Notifier under the bench load with py-spy: targeted POSTs, broadcasts or stream opens.

``python -m bench.profile targeted|broadcast|open|resume [--out DIR]``: starts ``python app.py`` on
SQLite as `make bench` does, opens 1,000 streams, then records the server with
``py-spy record --format raw`` (collapsed stacks; py-spy from pip, not a project dependency)
while it runs the chosen load, and prints the functions with the most samples (self and
inclusive), so a change can be judged by what it removed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.client import raise_nofile
from bench.scenarios import Plan, Run
from bench.systems import Notifier


def summary(raw: Path, top: int = 25) -> str:
    """Return the top functions by inclusive and by self samples."""
    incl: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " " + f.split("/")[-1].split(":")[0] for f in stack.split(";")]
        for f in set(frames):
            incl[f] += n
        own[frames[-1]] += n
    out = [f"{total} samples", "inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top)]
    out += ["self:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(out)


async def load(run: Run, what: str) -> None:
    """Run the chosen load once the streams are open."""
    a = run.system.tenants[0]
    if what == "targeted":
        await run.targeted(a, 4000, None)
    elif what == "broadcast":
        await run.broadcasts(a, 20, len(a["users"]))
    elif what == "resume":
        # One broadcast first, as the bench's storm has: every stream then holds a cursor
        # and reconnects with it (a stream at cursor 0 would open fresh, not resume).
        await run.settle([await run.post(0, a, None)], len(a["users"]))
        lasts = [s.last for s in run.streams]
        for s in run.streams:
            s.close()
        seqs = [await run.post(0, a, None) for _ in range(5)]
        await run.open(a, a["users"], lasts)
        await run.settle(seqs, len(a["users"]))
    else:
        for s in run.streams:
            s.close()
        run.streams.clear()
        await run.open(a, a["users"])


def main() -> None:
    """Start, load, record, summarise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["targeted", "broadcast", "open", "resume"])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    raise_nofile()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    system = Notifier([1000])
    system.start()
    raw = args.out / f"profile-{args.what}.txt"

    async def go() -> None:
        run = Run(system, Plan(sizes=[1000]))
        await run.warm_up(system.tenants[0])
        await run.open(system.tenants[0], system.tenants[0]["users"])
        rec = subprocess.Popen(
            [spy, "record", "--pid", str(system.procs[0].pid), "--format", "raw"]
            + ["--rate", "200", "--output", str(raw), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.sleep(1)  # py-spy attaches
        await load(run, args.what)
        rec.send_signal(2)
        rec.wait(30)

    try:
        asyncio.run(go())
    finally:
        system.stop()
    print(summary(raw))


if __name__ == "__main__":
    main()
