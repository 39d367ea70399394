"""Adaptive concurrency for a run (pure): additive increase, multiplicative decrease.

A run starts at its ``maximum`` concurrency. A 429 halves the limit — once per wave: the 429s
of requests sent before the last decrease are answers to the old limit and do not halve it
again (each decrease starts a new ``epoch``). Every success then grows the limit by
``1 / limit``, so it climbs back by one request per round of ``limit`` successes, as TCP's
congestion window does, up to the maximum again.
"""

from __future__ import annotations

DECREASE = 0.5


class Concurrency:
    """The limit of requests in flight: :attr:`current` (an int >= ``minimum``)."""

    def __init__(self, maximum: int, minimum: int = 1) -> None:
        if maximum < 1:
            raise ValueError(f"concurrency must be at least 1, not {maximum}")
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.limit = float(maximum)
        self.epoch = 0  # increases with each decrease
        self.decreases = 0
        self.lowest = maximum

    @property
    def current(self) -> int:
        return max(self.minimum, int(self.limit))

    def throttled(self, sent_in: int) -> bool:
        """A 429 came for a request sent in epoch ``sent_in``: halve, unless this wave already
        did. True when the limit went down."""
        if sent_in != self.epoch:
            return False
        self.limit = max(float(self.minimum), self.limit * DECREASE)
        self.epoch += 1
        self.decreases += 1
        self.lowest = min(self.lowest, self.current)
        return True

    def succeeded(self) -> bool:
        """A request succeeded: grow by 1 / limit. True when :attr:`current` went up."""
        if self.limit >= self.maximum:
            return False
        before = self.current
        self.limit = min(float(self.maximum), self.limit + 1.0 / max(self.limit, 1.0))
        return self.current > before
