"""A token bucket per channel, so a burst (a cohort round of 10,000 matches) is spread out
instead of getting the sender blocked by Slack, Teams or the mail relay.

The limit is per service instance: with N instances, set each to the provider's limit / N.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; a rate of 0 means no limit."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()

    def wait_needed(self) -> float:
        """Seconds until a token is free (0 when one is free now); takes it when free.

        Callers never sleep on the bucket: a delivery over the rate is scheduled for later,
        so the consumer keeps serving other channels and people meanwhile."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate
