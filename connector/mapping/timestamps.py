"""Timestamps: anything a record may carry -> an aware UTC datetime -> RFC 3339 text with 'Z'.

Accepted inputs: datetime (naive ones are read in the given zone, UTC by default), date
(midnight), ISO 8601 strings (with or without offset), strings in an explicit strptime format,
and epoch numbers. Nothing is guessed:
- a number (int, float, Decimal) without a unit is read as epoch s/ms/us/ns only when exactly one
  unit puts it between 1973-03-03 and 2286-11-20 (so 20240315 is refused, not 1970-08-23);
- a number written as text ('20240315', '1583217295123') is never read as an epoch unless the
  mapping says so (`epoch_ms(x)`, `to_timestamp(x, 'epoch_s')`) or gives a format ('%Y%m%d');
- epoch arithmetic on text and Decimal inputs is exact (no detour through a double).
Everything else raises BadTimestamp with the reason and what to write instead.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from connector.quoting import quote

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIT_US = {"s": 1_000_000, "ms": 1_000, "us": 1}
_UNIT_EXP = {"s": 6, "ms": 3, "us": 0, "ns": -3}  # epoch value * 10**exp = microseconds
UNITS = ("s", "ms", "us", "ns")
# A unitless number is read in the one unit that puts it in [1973-03-03, 2286-11-20): [1e8, 1e10) s.
_PLAUSIBLE = (("s", 10**8), ("ms", 10**11), ("us", 10**14), ("ns", 10**17))
_PLAUSIBLE_SPAN = 100
_NUMERIC_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_INT_TEXT = re.compile(r"^[+-]?\d+$")
FUTURE_TOLERANCE_S = 60.0
MAX_FUTURE_TOLERANCE_S = 3600.0
_UNIT_ADVICE = "say the unit: epoch_s(x), epoch_ms(x), epoch_us(x), epoch_ns(x) or to_timestamp(x, 'epoch_ms')"


class BadTimestamp(ValueError):
    """The value cannot be read as a point in time."""


class FutureTimestamp(BadTimestamp):
    """The timestamp is further in the future than the mapping's tolerance allows."""


def detect_unit(n: int | float | Decimal) -> str:
    """The epoch unit of a unitless number: the only one that reads it as a time in 1973..2286."""
    for unit, low in _PLAUSIBLE:
        if low <= n < low * _PLAUSIBLE_SPAN:
            return unit
    as_seconds = ""
    with contextlib.suppress(BadTimestamp):
        as_seconds = f" (as epoch seconds it would be {rfc3339(from_epoch(n, 's'))})"
    raise BadTimestamp(
        f"cannot tell the epoch unit of {n} by its size{as_seconds}: a number is read as epoch s, ms, us "
        f"or ns only when exactly one of them puts it between 1973 and 2286; {_UNIT_ADVICE}"
    )


def from_epoch(n: int | float | Decimal, unit: str | None = None) -> datetime:
    if isinstance(n, bool):
        raise BadTimestamp(f"cannot read a boolean ({n}) as a timestamp")
    unit = unit or detect_unit(n)
    try:
        if isinstance(n, int):
            us = n * _UNIT_US[unit] if unit != "ns" else n // 1000
        elif isinstance(n, Decimal):
            us = int(n.scaleb(_UNIT_EXP[unit]).to_integral_value(ROUND_HALF_EVEN))
        else:
            us = round(n / 1000) if unit == "ns" else round(n * _UNIT_US[unit])
        return EPOCH + timedelta(microseconds=us)
    except (OverflowError, ValueError, InvalidOperation) as exc:
        raise BadTimestamp(f"epoch {unit} value {n} is out of range") from exc


def _epoch_text(text: str, unit: str) -> datetime:
    """A number written as text, read exactly in the given unit."""
    t = text.strip()
    if _INT_TEXT.match(t):
        return from_epoch(int(t), unit)
    if not _NUMERIC_TEXT.match(t):
        raise BadTimestamp(f"cannot read {quote(text)} as epoch {unit}: it is not a number")
    return from_epoch(Decimal(t), unit)


def parse_text(s: str, fmt: str | None, tz: tzinfo) -> datetime:
    text = s.strip()
    if fmt is None and _NUMERIC_TEXT.match(text):
        raise BadTimestamp(
            f"{quote(s)} is a number written as text: it could be epoch seconds, milliseconds, ... or a compact "
            f"date such as YYYYMMDD, and it is not guessed; {_UNIT_ADVICE}, or give a format such as "
            "to_timestamp(x, '%Y%m%d')"
        )
    try:
        dt = datetime.strptime(text, fmt) if fmt is not None else datetime.fromisoformat(text)
    except ValueError as exc:
        with_format = f" with format {fmt!r}" if fmt else ""
        raise BadTimestamp(f"cannot parse {quote(s)} as a timestamp{with_format}") from exc
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
        return _epoch_text(x, unit) if unit is not None else parse_text(x, fmt, tz)
    raise BadTimestamp(f"cannot read a {type(x).__name__} as a timestamp")


def rfc3339(dt: datetime) -> str:
    """UTC, 'Z' suffix; fraction only when present (milliseconds when whole, else microseconds)."""
    if dt.tzinfo is not UTC:
        try:
            dt = dt.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise BadTimestamp(f"{dt} is out of range in UTC") from exc
    if dt.__class__ is datetime:  # the fields, formatted here: isoformat() costs ~10x more
        return utc_text(dt, dt.hour, dt.minute, dt.second, dt.microsecond)
    us = dt.microsecond  # a subclass (its own isoformat) keeps the general way
    naive = dt.replace(tzinfo=None)
    if us == 0:
        return naive.isoformat() + "Z"
    if us % 1000 == 0:
        return naive.isoformat(timespec="milliseconds") + "Z"
    return naive.isoformat() + "Z"


_D2 = tuple(f"{i:02d}" for i in range(100))
_D3 = tuple(f"{i:03d}" for i in range(1000))
_EPOCH_ORDINAL = EPOCH.toordinal()


def utc_text(day: date, hour: int, minute: int, second: int, us: int) -> str:
    """What `rfc3339` writes for this UTC day and time (datetime.isoformat's digits, 'Z' for the offset)."""
    year = day.year
    ymd = f"{year if year >= 1000 else f'{year:04d}'}-{_D2[day.month]}-{_D2[day.day]}"
    head = f"{ymd}T{_D2[hour]}:{_D2[minute]}:{_D2[second]}"
    if us == 0:
        return head + "Z"
    if us % 1000 == 0:
        return f"{head}.{_D3[us // 1000]}Z"
    return f"{head}.{us:06d}Z"


def epoch_text(us: int) -> str | None:
    """`rfc3339(EPOCH + timedelta(microseconds=us))` for an int, or None when that is out of range."""
    seconds, fraction = divmod(us, 1_000_000)
    days, seconds = divmod(seconds, 86400)
    try:
        d = date.fromordinal(_EPOCH_ORDINAL + days)
    except (ValueError, OverflowError):
        return None
    hour, seconds = divmod(seconds, 3600)
    minute, second = divmod(seconds, 60)
    return utc_text(d, hour, minute, second, fraction)


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
            raise BadTimestamp(f"cannot parse {quote(x)} as a timestamp") from exc
    dt = to_datetime(x, None, tz)
    text = rfc3339(dt)
    try:
        return text, dt.timestamp()
    except (OverflowError, ValueError) as exc:
        raise BadTimestamp(f"{quote(x)} is out of range") from exc


def future_guard(policy: str, tolerance_s: float, clock: Callable[[], float]) -> Callable[[str, float], str]:
    """`future_timestamps` of a mapping: (RFC 3339 text, epoch s) -> the text to send.

    A timestamp up to `tolerance_s` ahead of `clock` (producers' clocks drift) is kept as it is;
    further ahead, `reject` raises FutureTimestamp and `clamp` gives the clock's now.
    """
    reject = policy == "reject"

    def guard(text: str, epoch: float) -> str:
        now = clock()
        if epoch <= now + tolerance_s:
            return text
        if reject:
            raise FutureTimestamp(
                f"{text} is in the future: {epoch - now:.3f} s ahead of the connector's clock, more than "
                f"future_tolerance_s ({tolerance_s:g} s)"
            )
        return rfc3339(datetime.fromtimestamp(now, UTC))

    return guard
