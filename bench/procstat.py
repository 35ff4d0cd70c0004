"""Read server CPU and memory from /proc: CPU time of a process tree, and its PSS."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Return ``pid`` and every descendant (gunicorn workers, PostgreSQL backends)."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(kids.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / TICK


def pss_kib(pid: int) -> int:
    """Return one process's proportional set size in KiB."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Meter:
    """Sample the CPU and PSS of a set of root processes and all their descendants."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots

    def pids(self) -> list[int]:
        """Return every process of the system under test right now."""
        return [p for root in self.roots for p in children(root)]

    def cpu(self) -> dict[int, float]:
        """Return CPU seconds per process."""
        return {pid: cpu_seconds(pid) for pid in self.pids()}

    def pss(self) -> int:
        """Return the summed PSS in KiB."""
        return sum(pss_kib(pid) for pid in self.pids())


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """Return CPU seconds spent between two samples (a process born in between counts whole)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())
