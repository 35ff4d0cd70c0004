"""Evaluate send-time optimisation offline, on simulated people whose active hours are known.

    python -m bench.send_time_sim                 # 2,000 users; writes docs/send-time.md
    python -m bench.send_time_sim --users 40 --notifications 400 --json out.json --no-doc

Each simulated user lives in one of a few time zones and has 1-3 daily active windows
(local start 06:00-22:00, 1-3 h long). On each day each window happens with probability
0.85, its start jittered by N(0, 30 min) and its length by ±20%; on top come a few short
random check-ins (0.6 a day on average, 5-20 min, any hour): the noise. A user reads only
while active, each waiting item after an exponential delay with a mean of 10 minutes.

Training: 30 days of that behaviour become activity_hours rows exactly as Notifier records
them (a stream connect per session start hour, reads, some clicks), folded by the real model
(:func:`notifier.service.active_hours.histogram`). Evaluation: notifications published at
uniformly random times over the next 7 days, either sent at once or held until
:func:`notifier.service.active_hours.best_time` (the function ``best_send_time`` calls) within
12 h. Reported: the delay from delivery to read (what optimisation is for), the delay from
publish to read (its cost: waiting), and the share read within 1 h of delivery. Fixed seed.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from notifier.service.active_hours import MIN_SAMPLES, best_time, histogram

EPOCH = datetime(2026, 1, 5)  # a Monday, naive UTC; no DST change in the zones below for 6 weeks
TRAIN_DAYS, EVAL_DAYS, TAIL_DAYS = 30, 7, 4
WITHIN = timedelta(hours=12)
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "America/Sao_Paulo",
)
READ_MEAN_MIN = 10.0
#: The strategies compared: send at once; best_send_time (the heaviest hour, near=1); the
#: first hour at least half as likely as the heaviest (near=0.5), a cheaper compromise.
NEAR = {"best_send_time": 1.0, "near=0.5": 0.5}
STRATEGIES = ("at once", *NEAR)
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "send-time.md"
Session = tuple[float, float]  # (start, end) in minutes since EPOCH, UTC


@dataclass
class User:
    """One simulated person: zone, true windows, and the sessions they had."""

    zone: ZoneInfo
    windows: list[tuple[float, float]]  # (local start hour, length in hours)
    sessions: list[Session] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)


def make_user(rng: random.Random) -> User:
    """Draw a user's zone and 1-3 active windows."""
    windows = [(rng.uniform(6, 22), rng.uniform(1, 3)) for _ in range(rng.randint(1, 3))]
    return User(ZoneInfo(rng.choice(ZONES)), windows)


def _minutes(dt: datetime) -> float:
    return (dt - EPOCH).total_seconds() / 60


def live(user: User, rng: random.Random, days: int) -> None:
    """Generate the user's sessions for ``days`` days (windows with jitter, plus noise)."""
    out: list[Session] = []
    for d in range(days):
        local_midnight = datetime.combine((EPOCH + timedelta(days=d)).date(), datetime.min.time())
        base = _minutes(
            local_midnight.replace(tzinfo=user.zone)
            .astimezone(ZoneInfo("UTC"))
            .replace(tzinfo=None)
        )
        for start_h, length_h in user.windows:
            if rng.random() < 0.85:
                start = base + start_h * 60 + rng.gauss(0, 30)
                out.append((start, start + length_h * 60 * rng.uniform(0.8, 1.2)))
        for _ in range(_poisson(rng, 0.6)):
            start = base + rng.uniform(0, 1440)
            out.append((start, start + rng.uniform(5, 20)))
    out.sort()
    merged: list[Session] = []
    for s, e in out:  # overlapping sessions are one
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    user.sessions = merged
    user.ends = [e for _, e in merged]


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def activity_rows(user: User, rng: random.Random, until: float) -> list[Any]:
    """Return activity_hours rows of the sessions before ``until``, as Notifier records them."""
    acc: Counter[tuple[Any, int, str]] = Counter()
    connected: set[tuple[Any, int]] = set()
    for s, e in user.sessions:
        if s >= until:
            break
        at = EPOCH + timedelta(minutes=s)
        key = (at.date(), at.hour)
        if key not in connected:  # one connect per user per hour (service/activity.py)
            connected.add(key)
            acc[(*key, "connects")] += 1
        for _ in range(1 + _poisson(rng, 1.0)):  # reading what is waiting, while here
            t = EPOCH + timedelta(minutes=rng.uniform(s, e))
            acc[(t.date(), t.hour, "reads")] += 1
            if rng.random() < 0.2:
                acc[(t.date(), t.hour, "clicks")] += 1
    keys = {(d, h) for d, h, _ in acc}
    return [
        (d, h, acc[(d, h, "reads")], acc[(d, h, "clicks")], acc[(d, h, "connects")])
        for d, h in sorted(keys)
    ]


def read_at(user: User, delivered: float, rng: random.Random) -> float | None:
    """Return when the user reads an item delivered at ``delivered`` (None: not in the run)."""
    i = bisect.bisect_right(user.ends, delivered)
    while i < len(user.sessions):
        s, e = user.sessions[i]
        t = max(s, delivered) + rng.expovariate(1 / READ_MEAN_MIN)
        if t < e:
            return t
        i += 1
    return None


def _pct(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank); inf when it falls on unread items."""
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(delivery: list[float], publish: list[float], waits: list[float]) -> dict[str, Any]:
    """Return the figures of one strategy (delays in minutes; unread counted as infinite)."""
    n = len(delivery)
    return {
        "notifications": n,
        "median_read_after_delivery_min": _pct(delivery, 0.5),
        "p90_read_after_delivery_min": _pct(delivery, 0.9),
        "read_within_1h_of_delivery": sum(d <= 60 for d in delivery) / n,
        "median_read_after_publish_min": _pct(publish, 0.5),
        "p90_read_after_publish_min": _pct(publish, 0.9),
        "unread_at_end": sum(math.isinf(d) for d in delivery) / n,
        "held": sum(w > 0 for w in waits) / n,
        "mean_hold_min": statistics.fmean(waits) if waits else 0.0,
    }


def simulate(users: int, notifications: int, seed: int) -> dict[str, Any]:
    """Run the whole experiment; return both strategies' figures and the set-up."""
    rng = random.Random(seed)
    people = [make_user(rng) for _ in range(users)]
    train_end = TRAIN_DAYS * 1440.0
    now = EPOCH + timedelta(days=TRAIN_DAYS)
    models = []
    learned = 0
    for p in people:
        live(p, rng, TRAIN_DAYS + EVAL_DAYS + TAIL_DAYS)
        hours, samples = histogram(activity_rows(p, rng, train_end), p.zone, now)
        learned += samples >= MIN_SAMPLES
        models.append((hours, samples))
    figures: dict[str, dict[str, list[float]]] = {
        k: {"delivery": [], "publish": [], "wait": []} for k in STRATEGIES
    }
    for _ in range(notifications):
        i = rng.randrange(users)
        p, (hours, samples) = people[i], models[i]
        t0 = train_end + rng.uniform(0, EVAL_DAYS * 1440)
        at = EPOCH + timedelta(minutes=t0)
        sends = {"at once": t0}
        for name, near in NEAR.items():
            best = best_time(hours, samples, p.zone, at, WITHIN, near=near)
            sends[name] = t0 if best is None else _minutes(best)
        read_rng = random.Random(rng.random())  # the same reading luck for both strategies
        for name, sent in sends.items():
            r = read_at(p, sent, random.Random(read_rng.random()))
            f = figures[name]
            f["delivery"].append(math.inf if r is None else r - sent)
            f["publish"].append(math.inf if r is None else r - t0)
            f["wait"].append(sent - t0)
    return {
        "setup": {
            "users": users,
            "notifications": notifications,
            "seed": seed,
            "users_with_a_model": learned,
            "train_days": TRAIN_DAYS,
            "eval_days": EVAL_DAYS,
            "within_h": WITHIN.total_seconds() / 3600,
        },
        "results": {
            k: summarise(v["delivery"], v["publish"], v["wait"]) for k, v in figures.items()
        },
    }


def _fmt_min(m: float) -> str:
    if math.isinf(m):
        return "unread"
    return f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} h"


def table(result: dict[str, Any]) -> str:
    """Return the Markdown table of the two strategies."""
    rows = [
        ("read after delivery, median", "median_read_after_delivery_min", _fmt_min),
        ("read after delivery, p90", "p90_read_after_delivery_min", _fmt_min),
        ("read within 1 h of delivery", "read_within_1h_of_delivery", "{:.1%}".format),
        ("read after publish, median", "median_read_after_publish_min", _fmt_min),
        ("read after publish, p90", "p90_read_after_publish_min", _fmt_min),
        ("unread at the end of the run", "unread_at_end", "{:.1%}".format),
        ("held back", "held", "{:.1%}".format),
        ("mean hold", "mean_hold_min", _fmt_min),
    ]
    res = result["results"]
    out = [
        "| figure | sent at once | best_send_time (12 h) | first hour ≥ ½ best (12 h) |",
        "|---|---|---|---|",
    ]
    for label, key, fmt in rows:
        cells = " | ".join(fmt(res[name][key]) for name in STRATEGIES)
        out.append(f"| {label} | {cells} |")
    return "\n".join(out)


def write_doc(result: dict[str, Any], seconds: float, command: str) -> None:
    """Replace the generated part of docs/send-time.md (between the markers) with this run."""
    s = result["setup"]
    block = "\n".join(
        [
            "<!-- sim:start -->",
            f"`{command}` — {s['users']:,} users, {s['notifications']:,} notifications, seed "
            f"{s['seed']}, {s['users_with_a_model']:,} users with a model "
            f"(≥ {MIN_SAMPLES} events), {seconds:.0f} s.",
            "",
            table(result),
            "<!-- sim:end -->",
        ]
    )
    text = DOC.read_text() if DOC.exists() else "<!-- sim:start -->\n<!-- sim:end -->\n"
    head, _, rest = text.partition("<!-- sim:start -->")
    _, _, tail = rest.partition("<!-- sim:end -->")
    DOC.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print the table, write the doc and/or JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--notifications", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/send-time.md")
    args = ap.parse_args(argv)
    started = time.monotonic()
    result = simulate(args.users, args.notifications, args.seed)
    seconds = time.monotonic() - started
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if not args.no_doc:
        command = "python -m bench.send_time_sim"
        if argv or sys.argv[1:]:
            command += " " + " ".join(argv if argv is not None else sys.argv[1:])
        write_doc(result, seconds, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
