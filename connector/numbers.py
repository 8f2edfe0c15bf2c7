"""Exact numbers: when a binary double carries a decimal number, and how a Decimal is written.

A double carries every decimal number of up to 15 significant digits exactly (written back with
the shortest text that reads as the same double, it gives those digits again). Numbers with
more digits are kept as `decimal.Decimal` from input to output, and written as JSON numbers with
exactly their digits.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

DOUBLE_DIGITS = 15
ORJSON_INT_MIN, ORJSON_INT_MAX = -(2**63), 2**64 - 1  # orjson reads and writes integers in this range exactly
_PLAIN = 50  # beyond 10**50 (or below 10**-50), a Decimal is written with an exponent


def significant_digits(token: str) -> int:
    """Digits of a number's mantissa without its leading zeros (`0.00120` -> 3, `-1.50e3` -> 3)."""
    mantissa = token.lower().partition("e")[0]
    return len("".join(c for c in mantissa if c.isdigit()).lstrip("0"))


def decimal_text(d: Decimal) -> str:
    """A finite Decimal as JSON number text with exactly its digits: `12.50`, `-0.001`, `1.5E+60`."""
    if -_PLAIN <= d.adjusted() <= _PLAIN:
        return format(d, "f")
    return str(d)


def parse_number(text: str) -> int | float | Decimal:
    """A number written as text, exactly: int, a double when it carries the digits, else Decimal.

    Raises ValueError when the text is not a number.
    """
    try:
        return int(text)
    except ValueError:
        pass
    f = float(text)  # raises ValueError for non-numbers
    if not math.isfinite(f) or significant_digits(text) <= DOUBLE_DIGITS:
        return f
    try:
        return Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        return f


def json_default(v: Any) -> Any:
    """orjson's `default` hook: a finite Decimal becomes a JSON number with exactly its digits.

    orjson calls it only for types it cannot write itself, so JSON without decimals costs nothing more.
    """
    if isinstance(v, Decimal) and v.is_finite():
        return orjson.Fragment(decimal_text(v))
    raise TypeError(f"Type is not JSON serializable: {type(v).__name__}")


def json_bytes(v: Any, *, indent: bool = False, sort_keys: bool = False) -> bytes:
    """`orjson.dumps` that writes Decimals and integers past 64 bits exactly (see `json_default`)."""
    option = (orjson.OPT_INDENT_2 if indent else 0) | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(v, default=json_default, option=option or None)
    except TypeError:  # orjson refuses integers past 64 bits without calling `default`
        return orjson.dumps(big_ints_exact(v), default=json_default, option=option or None)


def big_ints_exact(v: Any) -> Any:
    """A copy of `v` whose integers outside orjson's 64-bit range are JSON number fragments.

    Arithmetic or `to_int` of a large double can give such an integer; it is written digit for
    digit (a reader with 64-bit integers rejects it, which XDM validation reports as a range error).
    """
    if isinstance(v, dict):
        return {k: big_ints_exact(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [big_ints_exact(x) for x in v]
    if v.__class__ is int and not ORJSON_INT_MIN <= v <= ORJSON_INT_MAX:
        return orjson.Fragment(str(v))
    return v
