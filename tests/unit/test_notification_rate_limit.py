"""Per-channel rate limits: a burst goes out at the configured pace, never faster."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.notification.rate_limit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_channel_sends_its_burst_at_once_then_one_per_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.wait_needed() for _ in range(3)] == [0, 0, 0]
    assert bucket.wait_needed() == 0.5
    clock.now = 0.5
    assert bucket.wait_needed() == 0


def test_a_rate_of_zero_means_no_limit() -> None:
    bucket = TokenBucket(rate=0, burst=1, clock=Clock())
    assert all(bucket.wait_needed() == 0 for _ in range(10_000))


@settings(deadline=None)  # a long run of sends takes longer on a busy machine; the clock is fake
@given(
    rate=st.floats(min_value=0.5, max_value=500),
    burst=st.integers(min_value=1, max_value=50),
    steps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=300),
)
def test_no_window_ever_sends_more_than_the_burst_plus_the_rate_times_its_length(
    rate: float, burst: int, steps: list[float]
) -> None:
    clock = Clock()
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock)
    sent: list[float] = []
    for step in steps:
        clock.now += step
        while bucket.wait_needed() == 0:
            sent.append(clock.now)
    # Every window [sent[i], sent[j]] holds j - i + 1 messages. The worst window ending at j
    # starts at the i with the largest rate * sent[i] - i, so one pass checks them all.
    best_start = float("-inf")
    for j, at in enumerate(sent):
        best_start = max(best_start, rate * at - j)
        assert (j + 1 - rate * at) + best_start <= burst + 1e-6
