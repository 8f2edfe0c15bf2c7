"""Token buckets shared by every thread of a sink (requests/s, messages/s, sync-validation 60/min)."""

from __future__ import annotations

import threading

from connector.interfaces import Clock


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up.

    `reserve(n)` takes n tokens now, going into debt if needed, and returns how long the caller
    must wait before acting; later callers queue behind that debt. A request larger than the
    capacity is therefore allowed (after a proportional wait) instead of starving forever.
    """

    def __init__(self, rate: float, capacity: float, clock: Clock) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock.monotonic()
        self._lock = threading.Lock()

    def reserve(self, n: float = 1.0) -> float:
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= n
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class InletLimits:
    """One bucket per inlet URL, created on first use (sync validation: 60 requests/min per inlet)."""

    def __init__(self, per_minute: float, clock: Clock) -> None:
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, inlet: str) -> TokenBucket:
        with self._lock:
            found = self._buckets.get(inlet)
            if found is None:
                found = self._buckets[inlet] = TokenBucket(self._rate, 1.0, self._clock)
            return found
