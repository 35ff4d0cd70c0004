"""`make bench` in miniature: every scenario against the floor and Notifier, counts only.

The benchmark harness (bench/) runs in a subprocess (it is asyncio; the test process is
gevent-patched). Nothing here is timed: the figures that matter are in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_scenario_delivers_each_notification_once_on_both_systems(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(out)],
        cwd=ROOT,
        check=True,
        timeout=240,
    )
    figures = json.loads(out.read_text())
    figures.pop("_commands")
    assert set(figures) == {"floor", "notifier"}
    for name, figs in figures.items():
        # 3 + 4 + 2 streams held; every POST accepted; nothing lost or delivered twice,
        # including the resume storm's replays after Last-Event-ID.
        assert figs["streams_held"] == 9, name
        assert (figs["failed_posts"], figs["lost"], figs["duplicated"]) == (0, 0, 0), name
        for key in ("cpu_per_targeted_us", "cpu_per_delivery_us", "kib_per_stream", "resume_s"):
            assert key in figs, (name, key)
