"""Lay out a server-rendered SVG line chart: points, gaps, axes (pure; the template draws it).

No JavaScript and no chart library: ``templates/admin/_line_chart.html`` turns a
:class:`Chart` into an ``<svg>`` with classes only (the CSP allows no inline style) and the
table behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 26


@dataclass
class Series:
    """One line: its name, CSS class, polyline segments (gaps where a value is None)."""

    name: str
    css: str
    values: list[float | None]
    segments: list[str] = field(default_factory=list)
    points: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, title


@dataclass
class Chart:
    """Everything the template needs to draw one chart and its table."""

    id: str
    title: str
    desc: str
    days: list[str]
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    fmt: Callable[[float | None], str]
    width: int = W
    height: int = H


def percent(v: float | None) -> str:
    """Format a rate for the chart and its table ("–" when there is none)."""
    return "–" if v is None else f"{v * 100:.1f} %"


def count(v: float | None) -> str:
    """Format a count."""
    return "–" if v is None else f"{int(v):,}"


def line_chart(
    chart_id: str,
    title: str,
    days: Sequence[str],
    series: dict[str, list[float | None]],
    *,
    rates: bool,
) -> Chart:
    """Place each series' values (one per day) on a shared x axis; rates run 0–100 %."""
    fmt = percent if rates else count
    values = [v for vs in series.values() for v in vs if v is not None]
    top = 1.0 if rates else _nice(max(values, default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return round(LEFT + i * step, 1), round(TOP + plot_h * (1 - v / top), 1)

    out = []
    for n, (name, vals) in enumerate(series.items()):
        s = Series(name, f"s{n % 6}", list(vals))
        run: list[str] = []
        for i, v in enumerate(vals):
            if v is None:
                if run:
                    s.segments.append(" ".join(run))
                run = []
                continue
            x, y = xy(i, v)
            run.append(f"{x},{y}")
            s.points.append((x, y, f"{days[i]} · {name}: {fmt(v)}"))
        if run:
            s.segments.append(" ".join(run))
        out.append(s)
    y_ticks = [(round(TOP + plot_h * (1 - f), 1), fmt(top * f)) for f in (0, 0.5, 1)]
    every = max(1, len(days) // 6)
    x_ticks = [(xy(i, 0)[0], d[5:]) for i, d in enumerate(days) if i % every == 0]
    shown = [f"{name} {fmt(_last(vals))}" for name, vals in series.items()]
    desc = f"{len(days)} days, {days[0]} to {days[-1]}; latest: " + ", ".join(shown) if days else ""
    return Chart(chart_id, title, desc, list(days), out, y_ticks, x_ticks, fmt)


def _nice(peak: float) -> float:
    """Round a count axis up to 2, 4, 10, 20, 40, 100…: half of it is a whole number too."""
    top = 2.0
    while top < peak:
        top *= 2.5 if str(int(top))[0] == "4" else 2
    return top


def _last(vals: list[float | None]) -> float | None:
    return next((v for v in reversed(vals) if v is not None), None)
