"""Backoff for transient DCS failures: exponential, full jitter, Retry-After as a floor, bounded."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from connector.config import DeliverySettings
from connector.retry_after import MAX_SERVER_DELAY_S


@dataclass(slots=True)
class Backoff:
    """Delay before retry number `failures` (1 = after the first failure).

    Full jitter: uniform(0, min(max, initial * 2**(failures-1))). Once retries are exhausted
    (pause mode) the delay stays near the maximum: uniform(max/2, max). A Retry-After is a floor,
    itself capped at max(max_s, MAX_SERVER_DELAY_S) so a hostile header cannot park a worker for hours.
    """

    initial_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_settings(cls, delivery: DeliverySettings, rng: random.Random | None = None) -> Backoff:
        return cls(delivery.initial_backoff_ms / 1000.0, delivery.max_backoff_ms / 1000.0, rng or random.Random())

    def ceiling(self, failures: int) -> float:
        exponent = min(max(failures - 1, 0), 62)
        return min(self.max_s, self.initial_s * (2.0**exponent))

    def delay(self, failures: int, retry_after: float | None = None, *, exhausted: bool = False) -> float:
        if exhausted:
            jittered = self.rng.uniform(self.max_s / 2.0, self.max_s)
        else:
            jittered = self.rng.uniform(0.0, self.ceiling(failures))
        if retry_after is not None and retry_after > jittered:
            return min(retry_after, max(self.max_s, MAX_SERVER_DELAY_S))
        return jittered
