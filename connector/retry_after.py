"""Server-given delays (Retry-After from DCS, IMS and the schema registry), validated in one place.

A server may ask the connector to wait; it may not park it. A header that is not a finite number
of seconds or an HTTP date (`inf`, `nan`, garbage) is ignored (the caller's own backoff applies),
a negative delay or a date in the past means "now", and anything longer than MAX_SERVER_DELAY_S
(a huge number, a date far in the future) is cut to it.
"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime

MAX_SERVER_DELAY_S = 300.0


def bounded_delay(seconds: float) -> float:
    """`seconds` within [0, MAX_SERVER_DELAY_S]; NaN counts as 0, infinity as the maximum."""
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), MAX_SERVER_DELAY_S)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date, against wall-clock `now`).

    None when absent or unreadable; otherwise within [0, MAX_SERVER_DELAY_S].
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return bounded_delay(seconds)
