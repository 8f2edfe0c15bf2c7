"""Backoff: exponential ceiling, full jitter, Retry-After as a bounded floor."""

from __future__ import annotations

import random

from connector.aep.retry import Backoff
from connector.config import DeliverySettings
from connector.retry_after import MAX_SERVER_DELAY_S


def test_ceiling_doubles_up_to_the_maximum() -> None:
    """initial * 2**(n-1), capped at max."""
    b = Backoff(0.2, 30.0)
    assert [b.ceiling(n) for n in (1, 2, 3, 4)] == [0.2, 0.4, 0.8, 1.6]
    assert b.ceiling(20) == 30.0
    assert b.ceiling(10_000) == 30.0


def test_full_jitter_stays_within_the_ceiling() -> None:
    """Every delay lies in [0, ceiling]; delays actually vary."""
    b = Backoff(0.2, 30.0, random.Random(7))
    for n in range(1, 12):
        delays = [b.delay(n) for _ in range(200)]
        assert all(0.0 <= d <= b.ceiling(n) for d in delays)
        assert len(set(delays)) > 100


def test_retry_after_is_a_floor() -> None:
    """A Retry-After longer than the jittered delay wins."""
    b = Backoff(0.2, 30.0, random.Random(1))
    assert all(b.delay(1, 2.0) == 2.0 for _ in range(50))
    assert all(b.delay(1, 0.0) <= 0.2 for _ in range(50))


def test_retry_after_floor_is_bounded() -> None:
    """An absurd Retry-After is capped at max(max_backoff, MAX_SERVER_DELAY_S)."""
    assert Backoff(0.2, 30.0).delay(1, 86_400.0) == MAX_SERVER_DELAY_S
    assert Backoff(0.2, 900.0).delay(1, 86_400.0) == 900.0


def test_exhausted_delays_stay_near_the_maximum() -> None:
    """After exhaustion (pause mode) delays are in [max/2, max]."""
    b = Backoff(0.2, 30.0, random.Random(3))
    assert all(15.0 <= b.delay(50, exhausted=True) <= 30.0 for _ in range(200))


def test_from_settings_reads_milliseconds() -> None:
    """initial_backoff_ms and max_backoff_ms become seconds."""
    b = Backoff.from_settings(DeliverySettings(initial_backoff_ms=250, max_backoff_ms=4_000))
    assert (b.initial_s, b.max_s) == (0.25, 4.0)
