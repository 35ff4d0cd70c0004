"""The faults, each injected under the running load and described by a :class:`Phase`.

Each scenario gets the :class:`Run` (stack, recorder, poster) and returns its phase: the window
its POSTs and cuts are counted in, the injection window [t0, t1], the steps (one per instance
restarted, for "cut at most once") and what it checked beyond the common columns.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scripts.faults.accounting import Phase
from scripts.faults.load import Poster, Prober, Recorder, request
from scripts.faults.report import backwards_steps, counter_total, parse_metrics
from scripts.faults.services import Gunicorn, wait_until
from scripts.faults.stack import Stack


@dataclass
class Run:
    """What a scenario may use."""

    stack: Stack
    rec: Recorder
    poster: Poster
    log: Callable[[str], None]


def _phase(run: Run, name: str, label: str) -> Phase:
    """Open a phase now: new POSTs are titled with its name."""
    run.poster.tag = name
    now = time.monotonic()
    run.log(f"[{name}] {label}")
    return Phase(name=name, label=label, start=now, end=now, t0=now, t1=now)


def _close(run: Run, phase: Phase, tail: float) -> Phase:
    """Let the load run ``tail`` more seconds, then end the phase."""
    time.sleep(tail)
    phase.end = time.monotonic()
    return phase


def _readyz_note(samples: list[tuple[float, str, int, Any]], run: Run, t0: float) -> list[str]:
    """Summarise /readyz answers per host from ``t0`` on."""
    notes = []
    for h in run.stack.hosts:
        mine = [s for s in samples if s[1] == h.url and s[0] >= t0]
        bad = [s for s in mine if s[2] != 200]
        notes.append(f"/readyz {h.name} non-200 {len(bad)}/{len(mine)}")
    return notes


def baseline(run: Run) -> Phase:
    """No fault: the same load, to show what normal looks like."""
    phase = _phase(run, "-", "no fault (baseline)")
    return _close(run, phase, 8)


FAIL_ANSWER = """
CREATE OR REPLACE FUNCTION faults_fail_answer() RETURNS trigger AS $$
BEGIN
  IF NEW.key LIKE 'fault-a-%' AND OLD.status = 0 AND NEW.status <> 0 THEN
    RAISE EXCEPTION 'fault injected: recording the idempotent answer failed';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS faults_fail_answer ON idempotency_keys;
CREATE TRIGGER faults_fail_answer BEFORE UPDATE ON idempotency_keys
  FOR EACH ROW EXECUTE FUNCTION faults_fail_answer();
"""


def idempotent_retry(run: Run, keys: int = 5) -> Phase:
    """(a) The statement that records the idempotent answer fails, then the client retries.

    A trigger refuses the update that turns a pending key into its answer (the issue's
    injection; a PostgreSQL restart or a kill -9 after the notification's commit does the
    same). Each key is POSTed once with the trigger armed, the trigger is dropped, and each
    key is retried 3 times, 1 s apart. Held: every key ends with one 201 and one stored row.
    """
    phase = _phase(run, "a", "idempotent retry after a failure between commit and answer")
    phase.no_5xx = False  # the injected failure answers 500 by design
    run.stack.psql(FAIL_ANSWER)
    phase.t0 = time.monotonic()
    members = sorted(run.stack.member_tokens)
    posts = [
        run.poster.one(members[i % len(members)], f"fault-a-{i}-{time.time_ns()}", None, 1)
        for i in range(keys)
    ]
    run.stack.psql("DROP TRIGGER faults_fail_answer ON idempotency_keys")
    retries = [threading.Thread(target=run.poster.attempt, args=(p, 3)) for p in posts]
    for t in retries:
        t.start()
    for t in retries:
        t.join()
    phase.t1 = time.monotonic()
    first = [p.attempts[0].status for p in posts]
    retries = [f"{a.status}{'/' + a.code if a.code else ''}" for p in posts for a in p.attempts[1:]]
    titles = ",".join(f"'{p.title}'" for p in posts)
    stored = dict(
        run.stack.psql(
            f"SELECT title, count(*) FROM notifications WHERE title IN ({titles}) GROUP BY title"  # noqa: S608 - our own titles
        )
    )
    phase.notes.append(f"{keys} keys: first answers {sorted(set(first))}")
    phase.notes.append(f"retries {sorted(set(retries))}")
    phase.notes.append(f"stored {sum(stored.values())} for {keys} keys")
    phase.checks["one 201 and one row per key"] = all(
        sum(1 for a in p.attempts if a.status == 201) >= 1 and stored.get(p.title) == 1
        for p in posts
    )
    return _close(run, phase, 3)


def pg_restart(run: Run, restarts: int = 2) -> Phase:
    """(b) ``pg_ctl restart -m fast`` during the load, twice, 5 s apart."""
    phase = _phase(run, "b", "pg_ctl restart -m fast (x2)")
    probe = Prober([h.url for h in run.stack.hosts], "/readyz")
    probe.start()
    time.sleep(3)
    phase.t0 = time.monotonic()
    took = []
    for i in range(restarts):
        if i:
            time.sleep(5)
        took.append(run.stack.pg_restart())
    phase.t1 = time.monotonic()
    _close(run, phase, 8)
    phase.notes.append("restarts took " + ", ".join(f"{t:.1f} s" for t in took))
    phase.notes += _readyz_note(probe.stop(), run, phase.t0)
    return phase


def redis_down(run: Run, seconds: float = 10) -> Phase:
    """(c) redis-server SIGKILLed, back on the same port after ``seconds``."""
    phase = _phase(run, "c", f"Redis down {seconds:.0f} s (SIGKILL, restart on the same port)")
    probe = Prober([h.url for h in run.stack.hosts], "/readyz")
    probe.start()
    time.sleep(2)
    phase.t0 = time.monotonic()
    run.stack.redis.kill()
    time.sleep(seconds)
    run.stack.redis.start()
    phase.t1 = time.monotonic()
    _close(run, phase, 12)
    samples = probe.stop()
    phase.notes += _readyz_note(samples, run, phase.t0)
    during = [s for s in samples if s[0] >= phase.t0]
    phase.checks["/readyz 200 on every host"] = all(s[2] == 200 for s in during)
    return phase


def _log_since(host: Gunicorn, offset: int) -> str:
    return host.log_text()[offset:]


def _replace_workers(host: Gunicorn, old: list[int], timeout: float = 30) -> float:
    """Wait until none of ``old`` is a worker any more and two workers serve; return seconds."""
    t = time.monotonic()
    wait_until(
        lambda: not set(old) & set(host.workers()) and len(host.workers()) == 2 and host.healthy(),
        timeout,
        0.1,
    )
    return time.monotonic() - t


def _restart_notes(run: Run, phase: Phase, offsets: dict[str, int]) -> None:
    """Note what the arbiters logged about killing and exiting workers during the phase."""
    killed = exiting = 0
    for h in run.stack.hosts:
        text = _log_since(h, offsets[h.name])
        killed += len(re.findall(r"SIGKILL", text))
        exiting += len(re.findall(r"Worker exiting", text))
    phase.notes.append(f"arbiter SIGKILLs {killed}, 'Worker exiting' {exiting}")


def rolling_hup(run: Run) -> Phase:
    """(d1) Rolling reload: SIGHUP host a's master, wait for new workers, then host b's."""
    phase = _phase(run, "d1", "rolling restart: SIGHUP each master in turn")
    phase.clean_cuts = True
    offsets = {h.name: len(h.log_text()) for h in run.stack.hosts}
    time.sleep(2)
    phase.t0 = time.monotonic()
    took = []
    for i, h in enumerate(run.stack.hosts):
        if i:
            time.sleep(4)  # let the first host's streams settle before the next step
        phase.steps.append(time.monotonic())
        old = h.workers()
        h.signal(signal.SIGHUP)
        took.append(f"{h.name} {_replace_workers(h, old):.1f} s")
    phase.t1 = time.monotonic()
    _close(run, phase, 8)
    phase.notes.append("old workers gone after " + ", ".join(took))
    _restart_notes(run, phase, offsets)
    return phase


def rolling_term(run: Run) -> Phase:
    """(d2) Rolling restart: SIGTERM host a's master, start it again, then host b."""
    phase = _phase(run, "d2", "rolling restart: SIGTERM + start each host in turn")
    phase.clean_cuts = True
    offsets = {h.name: len(h.log_text()) for h in run.stack.hosts}
    time.sleep(2)
    phase.t0 = time.monotonic()
    took = []
    for i, h in enumerate(run.stack.hosts):
        if i:
            time.sleep(4)  # let the first host's streams settle before the next step
        phase.steps.append(time.monotonic())
        stopped = h.stop()
        t = time.monotonic()
        h.start()
        took.append(f"{h.name} stop {stopped:.1f} s + start {time.monotonic() - t:.1f} s")
    phase.t1 = time.monotonic()
    _close(run, phase, 8)
    phase.notes.append("; ".join(took))
    _restart_notes(run, phase, offsets)
    return phase


def kill_worker(run: Run) -> Phase:
    """(e) kill -9 of one worker on host a, then one on host b (their masters respawn them)."""
    phase = _phase(run, "e", "kill -9 of a worker (one per host)")
    phase.no_5xx = False  # requests in flight on the killed worker cannot be answered
    time.sleep(2)
    phase.t0 = time.monotonic()
    took = []
    for i, h in enumerate(run.stack.hosts):
        if i:
            time.sleep(4)  # let the first host's streams settle before the next step
        phase.steps.append(time.monotonic())
        old = h.workers()
        victim = old[0]
        os.kill(victim, signal.SIGKILL)
        took.append(f"{h.name} {_replace_workers(h, [victim]):.1f} s")
    phase.t1 = time.monotonic()
    _close(run, phase, 6)
    phase.notes.append("worker replaced after " + ", ".join(took))
    return phase


COUNTERS = (
    "notifier_http_requests_total",
    "notifier_requests_total",
    "notifier_stream_connects_total",
)


def metrics(run: Run, scrapes: int = 20) -> Phase:
    """(f) Scrape host a's /metrics under load: the counter must never go down.

    20 scrapes rather than 10: with per-worker counters, 10 scrapes of 2 workers happen to
    rise monotonically (every scrape of the lower worker first) often enough to pass by luck.
    """
    phase = _phase(run, "f", f"metrics: {scrapes} scrapes of one instance")
    host = run.stack.hosts[0]
    phase.t0 = time.monotonic()
    values: list[float] = []
    name = ""
    labelled = False
    for _ in range(scrapes):
        status, body = request(host.url, "GET", "/metrics", token=run.stack.admin_token)
        if status == 200 and isinstance(body, str):
            samples = parse_metrics(body)
            name, value = counter_total(samples, COUNTERS)
            values.append(value)
            labelled = labelled or any(
                "pid" in k or "instance" in k for k in samples.get(name, {}) if k
            )
        time.sleep(0.25)
    phase.t1 = time.monotonic()
    down = backwards_steps(values)
    shown = " → ".join(f"{v:g}" for v in values)
    phase.notes.append(f"{name or 'no counter'}: {shown}; went down {down} of {len(values) - 1}")
    if labelled:
        phase.notes.append("samples carry a pid/instance label")
    phase.checks["counter never goes down"] = bool(values) and down == 0
    return _close(run, phase, 1)


SCENARIOS: dict[str, Callable[[Run], Phase]] = {
    "a": idempotent_retry,
    "b": pg_restart,
    "c": redis_down,
    "e": kill_worker,
    "f": metrics,
}


def expand(faults: list[str]) -> list[Callable[[Run], Phase]]:
    """Return the scenario functions for ``faults`` ('d' is both rolling restarts)."""
    out: list[Callable[[Run], Phase]] = []
    for f in faults:
        if f == "d":
            out += [rolling_hup, rolling_term]
        elif f in ("d1", "d2"):
            out.append(rolling_hup if f == "d1" else rolling_term)
        else:
            out.append(SCENARIOS[f])
    return out
