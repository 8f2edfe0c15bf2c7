"""Server-given delays: one parser for DCS, IMS and the registry; nothing can park the connector."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from connector.errors import RetryAfterError
from connector.retry_after import MAX_SERVER_DELAY_S, bounded_delay, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("-5", 0.0),
        ("0", 0.0),
        ("1e12", MAX_SERVER_DELAY_S),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        (formatdate(NOW + 30, usegmt=True), 30.0),
        (formatdate(NOW - 30, usegmt=True), 0.0),
        (formatdate(NOW + 1e9, usegmt=True), MAX_SERVER_DELAY_S),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    """Delta-seconds or an HTTP date, within [0, 300 s]; what is not a finite delay is ignored."""
    assert parse_retry_after(header, NOW) == expected


def test_retry_after_error_bounds_any_delay_it_is_given() -> None:
    """Whoever raises RetryAfterError, its delay is within [0, 300 s]: inf is the cap, NaN and negatives are 0."""
    assert RetryAfterError("x", float("inf")).retry_after == MAX_SERVER_DELAY_S
    assert RetryAfterError("x", float("nan")).retry_after == 0.0
    assert RetryAfterError("x", -3.0).retry_after == 0.0
    assert bounded_delay(12.5) == 12.5
