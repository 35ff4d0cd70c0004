"""bench/send_time_sim.py in miniature: it runs, compares the strategies, and its doc exists.

Counts and invariants only; the figures that matter are in docs/send-time.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_small_population_runs_and_holding_only_ever_delays_delivery(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    subprocess.run(
        [sys.executable, "-m", "bench.send_time_sim", "--users", "30", "--notifications", "300",
         "--json", str(out), "--no-doc"],
        cwd=ROOT, check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    figures = json.loads(out.read_text())
    assert figures["setup"]["users"] == 30
    results = figures["results"]
    assert set(results) == {"at once", "best_send_time", "near=0.5"}
    now, best = results["at once"], results["best_send_time"]
    assert now["notifications"] == best["notifications"] == 300
    assert now["held"] == 0 and now["mean_hold_min"] == 0
    assert 0 < best["held"] <= 1 and best["mean_hold_min"] <= 12 * 60
    # The same reader, later: never read sooner after publish than sent at once (median).
    assert best["median_read_after_publish_min"] >= now["median_read_after_publish_min"]


def test_the_doc_holds_a_table_and_the_command() -> None:
    text = (ROOT / "docs" / "send-time.md").read_text()
    block = text.split("<!-- sim:start -->")[1].split("<!-- sim:end -->")[0]
    assert "`python -m bench.send_time_sim" in block
    assert "| read within 1 h of delivery |" in block
