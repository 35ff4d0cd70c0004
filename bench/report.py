"""Write the generated part of docs/benchmarks.md: machine, versions, commands, tables, ratios."""

from __future__ import annotations

import math
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# (key, label, target as a ratio to the floor or None, lower is better)
ROWS = [
    ("kib_per_stream", "KiB per idle stream (PSS, at {held} streams)", 1.5),
    ("cpu_per_stream_us", "server CPU µs per new authenticated stream", 2.0),
    (
        "cpu_per_targeted_us",
        "server CPU µs per targeted notification (POST → stored → delivered)",
        3.0,
    ),
    ("cpu_per_delivery_us", "server CPU µs per broadcast delivery (1,000 streams)", 2.0),
    ("cpu_per_delivery_big_us", "server CPU µs per broadcast delivery (5,000 streams)", 2.0),
    ("sustained_per_s", "sustained targeted notifications/s, closed loop (8 posters)", None),
    ("paced_p50_ms", "POST → event p50 at 250/s (ms)", None),
    ("paced_p99_ms", "POST → event p99 at 250/s (ms)", None),
    ("bcast_small_p50_ms", "tenant broadcast to 1,000 streams: delivery p50 (ms)", 2.0),
    ("bcast_small_p99_ms", "tenant broadcast to 1,000 streams: delivery p99 (ms)", None),
    ("bcast_big_p50_ms", "tenant broadcast to 5,000 streams: delivery p50 (ms)", None),
    ("bcast_big_p99_ms", "tenant broadcast to 5,000 streams: delivery p99 (ms)", None),
    ("resume_s", "resume storm: {b} clients × {missed} missed, all caught up (s)", None),
    ("lost", "lost deliveries", None),
    ("duplicated", "duplicated deliveries", None),
    ("failed_posts", "POSTs not answered 201", None),
    ("failed_streams", "streams refused or failed to open", None),
]


def fmt(value: float | None) -> str:
    """Format a figure with sensible precision."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def version(cmd: list[str]) -> str:
    """Return the first line a version command prints, or '?'."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def machine() -> list[str]:
    """Describe the machine and the versions in use."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    pkgs = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("gevent", "Flask", "SQLAlchemy", "gunicorn", "redis")
    )
    pg = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return [
        f"- machine: {platform.node()}, {model}, {len(__import__('os').sched_getaffinity(0))} cores"
        f" (shared; the load client runs on the same machine), Linux {platform.release()}",
        f"- Python {platform.python_version()}; {pkgs}",
        f"- {version(['redis-server', '--version'])}; "
        f"{version([str(pg[-1]), '--version']) if pg else 'PostgreSQL ?'}",
    ]


def table(
    systems: list[tuple[str, str, dict]], ratio_of: tuple[int, int] | None, labels: dict
) -> list[str]:
    """Return a markdown table of figures per system, with a ratio column when asked."""
    head = "| figure | " + " | ".join(name for name, _, _ in systems) + " |"
    cols = len(systems)
    if ratio_of:
        head += " ratio | target |"
    lines = [head, "|---" * (cols + 1 + (2 if ratio_of else 0)) + "|"]
    for key, label, target in ROWS:
        if not any(key in figs for _, _, figs in systems):
            continue
        cells = [fmt(figs.get(key)) for _, _, figs in systems]
        row = f"| {label.format(**labels)} | " + " | ".join(cells) + " |"
        if ratio_of:
            num, den = systems[ratio_of[0]][2].get(key), systems[ratio_of[1]][2].get(key)
            ratio = f"×{num / den:.1f}" if num is not None and den else "–"
            row += f" {ratio} | {'≤ ×' + format(target, 'g') if target else ''} |"
        lines.append(row)
    return lines


def render(
    sections: list[tuple[str, list[tuple[str, str, dict]], tuple[int, int] | None]],
    labels: dict,
    extra: list[str],
) -> str:
    """Return the generated block."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [START, f"## `make bench` ({stamp})", "", *machine(), ""]
    for title, systems, ratio_of in sections:
        out += [f"### {title}", ""]
        out += [f"- {name}: `{cmd}`" for name, cmd, _ in systems]
        out += ["", *table(systems, ratio_of, labels), ""]
    out += [*extra, END]
    return "\n".join(out) + "\n"


def write(path: Path, block: str) -> None:
    """Replace the generated block in ``path`` (or put it after the title)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + block.rstrip("\n") + after
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{block}\n{body.lstrip()}"
    path.write_text(text)
