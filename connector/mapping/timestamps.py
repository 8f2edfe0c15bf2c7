"""Timestamps: anything a record may carry -> an aware UTC datetime -> RFC 3339 text with 'Z'.

Accepted inputs: datetime (naive ones are read in the given zone), date (midnight), numbers and
digit strings as epoch seconds/ms/us/ns (unit auto-detected by magnitude unless given), ISO 8601
strings (with or without offset), and strings in an explicit strptime format.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIT_US = {"s": 1_000_000, "ms": 1_000, "us": 1}
UNITS = ("s", "ms", "us", "ns")


class BadTimestamp(ValueError):
    """The value cannot be read as a point in time."""


def detect_unit(n: float) -> str:
    """Epoch unit by magnitude: < 1e11 seconds (to year 5138), < 1e14 ms, < 1e17 us, else ns."""
    a = abs(n)
    if a < 1e11:
        return "s"
    if a < 1e14:
        return "ms"
    if a < 1e17:
        return "us"
    return "ns"


def from_epoch(n: int | float | Decimal, unit: str | None = None) -> datetime:
    if isinstance(n, bool):
        raise BadTimestamp(f"cannot read a boolean ({n}) as a timestamp")
    unit = unit or detect_unit(float(n))
    try:
        if unit == "ns":
            return EPOCH + timedelta(microseconds=int(n) // 1000)
        if isinstance(n, int):
            return EPOCH + timedelta(microseconds=n * _UNIT_US[unit])
        return EPOCH + timedelta(microseconds=round(float(n) * _UNIT_US[unit]))
    except (OverflowError, ValueError) as exc:
        raise BadTimestamp(f"epoch {unit} value {n} is out of range") from exc


def _digits(s: str) -> bool:
    body = s[1:] if s[:1] == "-" else s
    return body.isdigit() and body.isascii()


def parse_text(s: str, fmt: str | None, tz: tzinfo) -> datetime:
    text = s.strip()
    try:
        if fmt is not None:
            dt = datetime.strptime(text, fmt)
        elif _digits(text):
            return from_epoch(int(text))
        else:
            dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadTimestamp(f"cannot parse {s!r} as a timestamp" + (f" with format {fmt!r}" if fmt else "")) from exc
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


def to_datetime(x: Any, fmt: str | None = None, tz: tzinfo = UTC, unit: str | None = None) -> datetime:
    """Read `x` as an aware datetime; raise BadTimestamp when it cannot be read."""
    if isinstance(x, datetime):
        return x if x.tzinfo is not None else x.replace(tzinfo=tz)
    if isinstance(x, date):
        return datetime(x.year, x.month, x.day, tzinfo=tz)
    if isinstance(x, int | float | Decimal) and not isinstance(x, bool):
        if (isinstance(x, Decimal) and not x.is_finite()) or (isinstance(x, float) and not math.isfinite(x)):
            raise BadTimestamp(f"cannot read {x} as a timestamp")
        return from_epoch(x, unit)
    if isinstance(x, str):
        if unit is not None:
            try:
                return from_epoch(float(x) if "." in x else int(x), unit)
            except ValueError as exc:
                raise BadTimestamp(f"cannot read {x!r} as epoch {unit}") from exc
        return parse_text(x, fmt, tz)
    raise BadTimestamp(f"cannot read a {type(x).__name__} as a timestamp")


def rfc3339(dt: datetime) -> str:
    """UTC, 'Z' suffix; fraction only when present (milliseconds when whole, else microseconds)."""
    if dt.tzinfo is not UTC:
        try:
            dt = dt.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise BadTimestamp(f"{dt} is out of range in UTC") from exc
    us = dt.microsecond
    naive = dt.replace(tzinfo=None)
    if us == 0:
        return naive.isoformat() + "Z"
    if us % 1000 == 0:
        return naive.isoformat(timespec="milliseconds") + "Z"
    return naive.isoformat() + "Z"


def is_utc_text(s: str) -> bool:
    """`YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`: already what `rfc3339` produces (fast path)."""
    n = len(s)
    return (
        (n == 20 or (n in (24, 27) and s[19] == "."))
        and s[n - 1] == "Z"
        and s[10] == "T"
        and s[4] == "-"
        and s[7] == "-"
        and s[13] == ":"
        and s[16] == ":"
    )


def normalise(x: Any, tz: tzinfo = UTC) -> tuple[str, float]:
    """RFC 3339 UTC text and epoch seconds of `x`; raise BadTimestamp."""
    if x.__class__ is str and is_utc_text(x):
        try:
            return x, datetime.fromisoformat(x).timestamp()
        except ValueError as exc:
            raise BadTimestamp(f"cannot parse {x!r} as a timestamp") from exc
    dt = to_datetime(x, None, tz)
    text = rfc3339(dt)
    try:
        return text, dt.timestamp()
    except (OverflowError, ValueError) as exc:
        raise BadTimestamp(f"{x!r} is out of range") from exc
