"""Compare a type's template variants side by side, with the numbers to judge significance.

Counted per notification (the in-app inbox row: one per person and publish, so the samples
are independent), grouped by (type, variant). For each variant: sent, seen, read, clicked,
the read and click rates, a 95% Wilson score interval for the read rate, and the two-sided
p-value of a two-proportion z-test of its read rate against the type's reference variant
(the one with the most notifications; ties by name). Only types with at least one named
variant are shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifier.service import analytics

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Return the Wilson score interval (low, high) of successes/n; None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def z_test(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Return the two-sided p-value that x1/n1 and x2/n2 differ (pooled z-test).

    None when a group is empty or the pooled rate is 0 or 1 (no variance to test against).
    """
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass
class Arm:
    """One variant's numbers."""

    name: str | None
    counts: dict[str, int]
    read_rate: float | None
    click_rate: float | None
    read_ci: tuple[float, float] | None
    p_value: float | None = None
    reference: bool = False


@dataclass
class Experiment:
    """A type and its variants, the reference first."""

    type: str
    arms: list[Arm] = field(default_factory=list)


def compare(
    tenant_id: int, since: datetime, until: datetime, type_: str | None = None
) -> list[Experiment]:
    """Return the experiments of the window: types with named variants, arms side by side."""
    q = analytics.Query(
        tenant_id, since, until, by=("type", "variant"), type=type_, channel="in_app"
    )
    data = analytics.grouped(q)
    out = []
    for ntype in analytics.keys_of(data, 0):
        per = {k[1]: c for k, c in data.items() if k[0] == ntype}
        if not any(name is not None for name in per):
            continue
        arms = [_arm(name, counts) for name, counts in per.items()]
        arms.sort(key=lambda a: (-a.counts["delivered"], a.name is None, str(a.name)))
        ref = arms[0]
        ref.reference = True
        for arm in arms[1:]:
            arm.p_value = z_test(
                arm.counts["read"],
                arm.counts["delivered"],
                ref.counts["read"],
                ref.counts["delivered"],
            )
        out.append(Experiment(str(ntype), arms))
    return out


def _arm(name: Any, counts: dict[str, int]) -> Arm:
    return Arm(
        name=name,
        counts=counts,
        read_rate=analytics.rate(counts["read"], counts["delivered"]),
        click_rate=analytics.rate(counts["clicked"], counts["delivered"]),
        read_ci=wilson(counts["read"], counts["delivered"]),
    )
