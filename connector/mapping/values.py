"""Output values: JSON-ready, and never null or empty (XDM refuses both).

`clean` is applied to every mapped value: null, "", {} and [] (and NaN/infinity, which JSON
cannot carry) become None, which the caller leaves out; nested containers are rebuilt without
them; Avro logical types become JSON types (datetime -> RFC 3339 UTC, date -> YYYY-MM-DD,
time -> HH:MM:SS[.ffffff], UUID -> str, bytes -> base64).

Exact decimals: a Decimal (an Avro `decimal`, a JSON number too long for a double) stays a
Decimal and is written as a JSON number with exactly its digits (`json_bytes`, `decimal_text`):
9999999999999999.99 arrives as 9999999999999999.99, 12.50 as 12.50. Only `to_float` makes a
double of it.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.mapping.timestamps import rfc3339
from connector.numbers import decimal_text, json_bytes


def clean(v: Any) -> Any:
    """`v` without empty parts, with JSON-ready types; None when nothing is left."""
    t = v.__class__
    if t is str:
        return v if v else None
    if t is int or t is bool:
        return v
    if v is None:
        return None
    if t is float:
        return v if math.isfinite(v) else None
    if t is dict:
        out = {}
        for k, x in v.items():
            cx = clean(x)
            if cx is not None:
                out[k if k.__class__ is str else str(k)] = cx
        return out or None
    if t is list or t is tuple:
        items = [cx for x in v if (cx := clean(x)) is not None]
        return items or None
    return _clean_other(v)


def _clean_other(v: Any) -> Any:
    if isinstance(v, Decimal):
        return v if v.is_finite() else None
    if isinstance(v, str):
        return str(v) if v else None
    if isinstance(v, bool | int):
        return int(v) if not isinstance(v, bool) else bool(v)
    if isinstance(v, float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, dict):
        return clean(dict(v))
    if isinstance(v, list | tuple | set | frozenset):
        return clean(list(v))
    converted = convert_scalar(v)
    return None if converted is None else clean(converted)


def convert_scalar(v: Any) -> Any:
    """Avro/Python scalar types to JSON scalars; None for types with no JSON meaning."""
    if isinstance(v, datetime):
        return rfc3339(v if v.tzinfo is not None else v.replace(tzinfo=UTC))  # naive = UTC
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, time):
        return v.isoformat()
    if isinstance(v, Decimal):
        return v if v.is_finite() else None
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode("ascii")
    return str(v)


def to_text(v: Any) -> str | None:
    """The string form used by `to_string` and the string functions; None stays None."""
    t = v.__class__
    if t is str:
        return v  # type: ignore[no-any-return]
    if v is None:
        return None
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        if v.is_integer() and abs(v) < 1e16:
            return str(int(v))
        return repr(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, Decimal):
        return decimal_text(v) if v.is_finite() else None
    if isinstance(v, dict | list | tuple):
        return json_bytes(clean(v) or ({} if isinstance(v, dict) else [])).decode()
    converted = convert_scalar(v)
    return None if converted is None else str(converted)
