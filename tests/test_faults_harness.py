"""The fault harness's accounting on recorded data (scripts/faults/accounting.py, report.py).

The harness itself (``python -m scripts.faults``) deploys PostgreSQL, Redis, gunicorn and nginx
and takes minutes, so it is not part of the suite; what decides its verdicts is checked here,
without servers.
"""

from __future__ import annotations

import json

from scripts.faults.accounting import (
    Attempt,
    Connect,
    Cut,
    Phase,
    Post,
    Receipt,
    Recording,
    row_for,
)
from scripts.faults.report import backwards_steps, counter_total, format_table, parse_metrics

CLIENTS = {0: "u1", 1: "u1", 2: "u2"}


def post(title: str, user: str, t: float, *statuses: int) -> Post:
    """Return a POST sent at ``t`` whose attempts answered ``statuses`` a second apart."""
    return Post(
        key=f"k-{title}",
        title=title,
        user=user,
        sent_at=t,
        attempts=[Attempt(t + i + 0.1, s) for i, s in enumerate(statuses)],
    )


def phase(**kw: object) -> Phase:
    """Return a phase over [0, 100) with the fault at [10, 12]."""
    base = {"name": "x", "label": "test", "start": 0.0, "end": 100.0, "t0": 10.0, "t1": 12.0}
    return Phase(**{**base, **kw})  # type: ignore[arg-type]


def test_lost_counts_a_201_missing_from_any_stream_of_the_recipient() -> None:
    posts = [post("p1", "u1", 11, 201), post("p2", "u1", 11, 201), post("p3", "u2", 11, 201)]
    receipts = [
        Receipt(0, 1, "p1", 11.5),
        Receipt(1, 1, "p1", 11.6),
        Receipt(0, 2, "p2", 11.7),  # client 1 (same user) never got p2
        Receipt(2, 1, "p3", 11.8),
    ]
    row = row_for(phase(), posts, receipts, [], [], CLIENTS)
    assert row.lost == 1
    assert row.recovery is None  # p2 was sent during the fault and never fully arrived
    assert not row.held


def test_a_retry_that_ends_in_201_is_not_lost_but_its_5xx_are_counted() -> None:
    posts = [post("p1", "u2", 11, 502, 500, 201)]
    receipts = [Receipt(2, 7, "p1", 13.5)]
    row = row_for(phase(), posts, receipts, [], [], CLIENTS)
    assert (row.sent, row.fivexx, row.lost) == (1, 1, 0)
    assert "2 5xx answers counting retries" in row.notes
    assert row.recovery == 13.5 - 12.0  # the last delivery, after the last failure (13.1)
    assert not row.held and "FAILED: no 5xx" in row.notes
    # Where the fault kills requests in flight by design (kill -9), the retry's 201 suffices.
    assert row_for(phase(no_5xx=False), posts, receipts, [], [], CLIENTS).held


def test_a_post_that_never_got_201_fails_the_phase() -> None:
    posts = [post("p1", "u2", 11, 500, 409, 409)]
    row = row_for(phase(), posts, [Receipt(2, 7, "p1", 11.2)], [], [], CLIENTS)
    assert row.lost == 0  # it arrived, but the client was never told it was created
    assert "1 never got 201 (last answer [409])" in row.notes
    assert not row.held


def test_duplicates_are_per_client_across_reconnects_and_backwards_ids_counted() -> None:
    receipts = [
        Receipt(0, 5, "p1", 20),
        Receipt(1, 5, "p1", 20),  # another tab of the user: not a duplicate
        Receipt(0, 6, "p2", 21),
        Receipt(0, 5, "p1", 25),  # replayed again after a reconnect: a duplicate
        Receipt(1, 4, "p0", 26),  # lower than 5, which client 1 already had
    ]
    row = row_for(phase(), [], receipts, [], [], CLIENTS, stored_twice=1)
    assert (row.dup, row.ooo) == (2, 1)  # one repeated id + one notification stored twice
    assert not row.held


def test_streams_cut_twice_within_one_restart_step() -> None:
    cuts = [
        Cut(0, 31, True),
        Cut(0, 33, True),  # client 0 cut twice while host a restarted
        Cut(1, 32, True),
        Cut(1, 52, False),  # client 1 once per step, the second abrupt
    ]
    connects = [Connect(0, 34, 200), Connect(1, 53, 200), Connect(2, 40, 503)]
    row = row_for(phase(steps=[30.0, 50.0], clean_cuts=True), [], [], cuts, connects, CLIENTS)
    assert (row.cuts, row.twice, row.abrupt) == (4, 1, 1)
    assert "FAILED: clean cuts only" in row.notes
    assert row.recovery == 53 - 12  # the last stream back
    assert "stream (re)connects refused 1" in row.notes
    assert not row.held


def test_failed_checks_fail_the_row_and_the_table_shows_it() -> None:
    row = row_for(phase(checks={"readyz": False}), [], [], [], [], CLIENTS)
    assert not row.held and row.notes == ["FAILED: readyz"]
    table = format_table([row]).splitlines()
    assert table[0].startswith("| fault | sent | 5xx | lost")
    assert table[2] == "| x test | 0 | 0 | 0 | 0 (0) | 0 (0, 0) | 0.0 s | NO | FAILED: readyz |"


def test_metrics_counter_summed_over_labels_and_resets_detected() -> None:
    text = (
        "# HELP notifier_stream_connects_total Stream connections opened\n"
        "# TYPE notifier_stream_connects_total counter\n"
        "notifier_stream_connects_total 12.0\n"
        'notifier_http_requests_total{route="/a",status="201"} 40.0\n'
        'notifier_http_requests_total{route="/b",status="200"} 2.0\n'
        "notifier_stream_connects_created 1.7e+09\n"
    )
    samples = parse_metrics(text)
    names = ("notifier_http_requests_total", "notifier_stream_connects_total")
    assert counter_total(samples, names) == ("notifier_http_requests_total", 42.0)
    assert counter_total(samples, names[1:]) == ("notifier_stream_connects_total", 12.0)
    assert backwards_steps([4743, 3035, 4743, 4800]) == 1
    assert backwards_steps([1, 1, 2, 3]) == 0


def test_a_recording_replays_to_the_same_table() -> None:
    recording = Recording(
        phases=[
            phase(steps=[30.0], no_5xx=False),
            phase(name="y", start=100.0, end=200.0, t0=110, t1=111),
        ],
        posts=[post("p1", "u1", 11, 502, 201), post("p2", "u2", 150, 201)],
        receipts=[Receipt(0, 1, "p1", 12.5), Receipt(1, 1, "p1", 12.6), Receipt(2, 2, "p2", 151)],
        cuts=[Cut(0, 31, True)],
        connects=[Connect(0, 32, 200)],
        clients=CLIENTS,
        stored_twice={"p2": 2},
        meta={"checkout": "x"},
    )
    again = Recording.load(json.loads(json.dumps(recording.dump())))
    assert format_table(again.rows()) == format_table(recording.rows())
    assert [(r.fivexx, r.dup, r.cuts, r.held) for r in again.rows()] == [
        (1, 0, 1, True),
        (0, 1, 0, False),  # p2 was stored twice for one key
    ]
