"""Token bucket math: burst up to capacity, then the configured rate; debt instead of starvation."""

from __future__ import annotations

import threading

from connector.aep.ratelimit import InletLimits, TokenBucket

from .fakes import FakeClock


def test_burst_then_rate() -> None:
    """10/s with capacity 10: ten immediate, the 11th waits 0.1 s, the 12th 0.2 s."""
    clock = FakeClock()
    bucket = TokenBucket(10.0, 10.0, clock)
    assert [bucket.reserve() for _ in range(10)] == [0.0] * 10
    assert round(bucket.reserve(), 9) == 0.1
    assert round(bucket.reserve(), 9) == 0.2


def test_refills_with_time_up_to_capacity() -> None:
    """Idle time refills at `rate` but never beyond capacity."""
    clock = FakeClock()
    bucket = TokenBucket(2.0, 4.0, clock)
    assert bucket.reserve(4) == 0.0
    clock.advance(1.0)
    assert bucket.reserve(2) == 0.0
    assert bucket.reserve(1) == 0.5
    clock.advance(100.0)
    assert bucket.reserve(4) == 0.0
    assert bucket.reserve(1) == 0.5


def test_request_larger_than_capacity_waits_proportionally() -> None:
    """500 messages at 100 msg/s: allowed now, and the next caller waits out the 4 s debt."""
    clock = FakeClock()
    bucket = TokenBucket(100.0, 100.0, clock)
    assert bucket.reserve(500) == 4.0
    clock.advance(4.0)
    assert bucket.reserve(1) == 0.01


def test_average_rate_holds_across_threads() -> None:
    """Concurrent reservations add up to exactly rate-limited waits: 100 requests at 10/s need 9 s of debt."""
    clock = FakeClock()
    bucket = TokenBucket(10.0, 10.0, clock)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(25):
            w = bucket.reserve()
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert round(max(waits), 6) == 9.0
    assert sorted(round(w, 6) for w in waits) == sorted([0.0] * 10 + [round(0.1 * k, 6) for k in range(1, 91)])


def test_sync_validation_limit_is_per_inlet() -> None:
    """60/min: one request per second per inlet; another inlet has its own bucket."""
    clock = FakeClock()
    limits = InletLimits(60.0, clock)
    a, b = limits.bucket("http://x/collection/a"), limits.bucket("http://x/collection/b")
    assert limits.bucket("http://x/collection/a") is a
    assert a.reserve() == 0.0 and b.reserve() == 0.0
    assert a.reserve() == 1.0
