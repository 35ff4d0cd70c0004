"""Print what accounting.py computed: Markdown tables, and the parsing of /metrics scrapes."""

from __future__ import annotations

import re
from collections import defaultdict

from scripts.faults.accounting import Phase, Post, Row

HEADER = (
    "| fault | sent | 5xx | lost | dup (ooo) | streams cut (twice, abrupt) | recovery | held "
    "| notes |"
)


def format_row(row: Row) -> str:
    """Return one Markdown table row."""
    rec = "never" if row.recovery is None else f"{row.recovery:.1f} s"
    return (
        f"| {row.name} {row.label} | {row.sent} | {row.fivexx} | {row.lost} | "
        f"{row.dup} ({row.ooo}) | {row.cuts} ({row.twice}, {row.abrupt}) | {rec} | "
        f"{'yes' if row.held else 'NO'} | {'; '.join(row.notes)} |"
    )


def format_table(rows: list[Row]) -> str:
    """Return the Markdown table of ``rows``."""
    sep = "|---" * (HEADER.count("|") - 1) + "|"
    return "\n".join([HEADER, sep, *(format_row(r) for r in rows)])


def post_latency(posts: list[Post], phase: Phase) -> tuple[float, float]:
    """Return the p50 and p95 seconds to the first answer of the POSTs sent in ``phase``."""
    inside = [p for p in posts if p.attempts and phase.start <= p.sent_at < phase.end]
    values = sorted(p.attempts[0].t - p.sent_at for p in inside)
    if not values:
        return 0.0, 0.0
    return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.95))]


def _cells(row: Row) -> list[str]:
    rec = "never" if row.recovery is None else f"{row.recovery:.1f} s"
    return [
        str(row.sent),
        str(row.fivexx),
        str(row.lost),
        f"{row.dup} ({row.ooo})",
        f"{row.cuts} ({row.twice}, {row.abrupt})",
        rec,
        "yes" if row.held else "**NO**",
    ]


def compare_table(runs: list[list[Row]]) -> str:
    """Return one Markdown table whose cells read ``run1 / run2 / …`` for the same fault."""
    header = HEADER.rsplit("| notes |", 1)[0] + "|"
    lines = [header, "|---" * (header.count("|") - 1) + "|"]
    by_name = [{r.name: r for r in rows} for rows in runs]
    for row in runs[0]:
        same = [b.get(row.name) for b in by_name]
        cells = [_cells(r) if r else ["–"] * 7 for r in same]
        joined = [" / ".join(col) for col in zip(*cells, strict=True)]
        lines.append(f"| {row.name} {row.label} | " + " | ".join(joined) + " |")
    return "\n".join(lines)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)")


def parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """Parse Prometheus text into {metric name: {label string: value}} (comments skipped)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            out[m.group(1)][m.group(2) or ""] = float(m.group(3))
    return dict(out)


def counter_total(
    samples: dict[str, dict[str, float]], names: tuple[str, ...]
) -> tuple[str, float]:
    """Return (name, sum over label sets) of the first counter in ``names`` that is present."""
    for name in names:
        if name in samples:
            return name, sum(samples[name].values())
    return "", 0.0


def backwards_steps(values: list[float]) -> int:
    """Return how many consecutive scrapes saw the counter go down."""
    return sum(1 for a, b in zip(values, values[1:], strict=False) if b < a)
