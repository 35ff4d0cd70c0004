"""Test the retry schedule (doubling, jitter, cap, Retry-After) and how errors are stored."""

from __future__ import annotations

import pytest

from notifier.delivery import backoff
from notifier.delivery.outcome import MAX_DELAY, MAX_RETRY_AFTER, redact


class _Edge:
    """An rng whose uniform() returns the low or the high end of the range."""

    def __init__(self, high: bool) -> None:
        self.high = high

    def uniform(self, low: float, high: float) -> float:
        return high if self.high else low


@pytest.mark.parametrize(
    ("attempt", "nominal"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 320), (7, 600), (8, 600), (40, 600)],
)
def test_backoff_doubles_with_jitter_and_a_ten_minute_cap(attempt: int, nominal: float) -> None:
    assert backoff(attempt, 10, rng=_Edge(high=False)) == pytest.approx(nominal * 0.8)
    assert backoff(attempt, 10, rng=_Edge(high=True)) == pytest.approx(min(nominal * 1.2, 600))
    assert 0.8 * nominal <= backoff(attempt, 10) <= min(1.2 * nominal, MAX_DELAY)


def test_backoff_honours_a_longer_retry_after_up_to_an_hour() -> None:
    assert backoff(1, 10, retry_after=120, rng=_Edge(high=True)) == 120
    assert backoff(1, 10, retry_after=3, rng=_Edge(high=True)) == 12  # Shorter: ours wins.
    assert backoff(1, 10, retry_after=10**9) == MAX_RETRY_AFTER


def test_errors_are_stored_without_url_paths() -> None:
    message = "push service unreachable: HTTPSConnectionPool(host='p.example'): with url: /w/abc"
    assert (
        redact(message)
        == "push service unreachable: HTTPSConnectionPool(host='p.example'): with url: …"
    )
    assert redact("failed https://push.example/wpush/v2/SECRET?x=1") == (
        "failed https://push.example/…"
    )
    assert len(redact("x" * 2000) or "") == 500
