"""JSON record values: bytes -> dict, with a precise dead-letter reason for every failure.

Numbers arrive exactly. orjson (the fast path) reads every number with a fraction or exponent
as a binary double, which carries at most 15 significant decimal digits for sure, and integers
beyond 64 bits as doubles too. So after orjson has parsed (and validated) the bytes, one cheap
scan asks whether they hold a number with 16 or more digits; only then are they parsed again
with the standard library, keeping such numbers as `decimal.Decimal` (digit for digit) and every
other number exactly as orjson gives it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from connector.errors import DecodeError
from connector.numbers import DOUBLE_DIGITS, ORJSON_INT_MAX, ORJSON_INT_MIN, significant_digits
from connector.records import SourceRecord

# One C-level pass: the bytes that can start a number (after ':' ',' '[') become '#', the bytes a
# number and the whitespace before it are made of become '0'; '#' itself becomes 'x'. A number of
# 16 or more digits then shows as '#' followed by 16 '0's. Text inside a string can show the same
# (`"urn:1234567890123456"`): it is read exactly too, which changes nothing but the time taken.
_NUMBERISH = bytes.maketrans(b"123456789.- \t\r\n:,[#", b"0" * 15 + b"###x")
_LONG = b"#" + b"0" * (DOUBLE_DIGITS + 1)


def double_loses(token: bytes) -> bool:
    """Whether orjson would read this JSON number token with lost digits."""
    text = token.decode("ascii").lower()
    if "." not in text and "e" not in text:
        return not ORJSON_INT_MIN <= int(text) <= ORJSON_INT_MAX
    return significant_digits(text) > DOUBLE_DIGITS


def _exact_float(text: str) -> float | Decimal:
    return Decimal(text) if significant_digits(text) > DOUBLE_DIGITS else float(text)


def _exact_int(text: str) -> int | Decimal:
    n = int(text)
    return n if ORJSON_INT_MIN <= n <= ORJSON_INT_MAX else Decimal(text)


def loads_exact(data: bytes) -> Any:
    """JSON bytes -> Python values, numbers exact; raises orjson.JSONDecodeError (or ValueError)."""
    value = orjson.loads(data)
    t = value.__class__
    if t is dict or t is list:
        if _LONG not in data.translate(_NUMBERISH):
            return value
    elif t is not float or not double_loses(data.strip()):
        return value  # a top-level int from orjson is exact; strings, booleans and null have no digits
    return exact_parse(data)


def exact_parse(data: bytes) -> Any:
    """The slow path: the standard library's parser, long numbers as Decimal, the others as orjson reads them."""
    return json.loads(data, parse_float=_exact_float, parse_int=_exact_int)


def decode_json_bytes(data: bytes | None, what: str = "value") -> Any:
    """Parse JSON bytes, raising DecodeError with a stable reason code."""
    if data is None:
        raise DecodeError("tombstone", f"record {what} is null (tombstone); there is nothing to send")
    if not data:
        raise DecodeError("empty-value", f"record {what} is empty (0 bytes)")
    try:
        return loads_exact(data)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "UTF-8" in text:
            raise DecodeError("invalid-utf8", f"record {what} is not valid UTF-8: {text}") from None
        if "depth limit" in text or "recursion" in text:
            raise DecodeError("too-deep", f"record {what} nests JSON deeper than 1024 levels: {text}") from None
        raise DecodeError("invalid-json", f"record {what} is not valid JSON: {text}") from None
    except RecursionError:
        raise DecodeError("too-deep", f"record {what} nests JSON too deeply to read its long numbers") from None
    except ValueError as exc:  # the exact parse: e.g. an integer of more than 4300 digits
        raise DecodeError("invalid-json", f"record {what} has a number that cannot be read: {exc}") from None


class JsonDeserializer:
    """A JSON object per record value (anything else is dead-lettered)."""

    def __call__(self, record: SourceRecord) -> Any:
        value = decode_json_bytes(record.value)
        if not isinstance(value, dict):
            raise DecodeError("not-an-object", f"record value is JSON {type(value).__name__}, expected an object")
        return value
