"""JSON numbers arrive exactly: orjson is the fast path, long numbers are re-read as Decimal, digit for digit."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import DecodeError
from connector.records import SourceRecord
from connector.serde.json import JsonDeserializer, decode_json_bytes


def encode(envelope: dict[str, object]) -> bytes:
    """The envelope serialiser (imported here so the behaviour tests run, and fail, on code without it)."""
    from connector.mapping.envelope import encode as encode_envelope

    return encode_envelope(envelope)


def _value(raw: bytes) -> dict[str, object]:
    out: dict[str, object] = JsonDeserializer()(SourceRecord("t", 0, 0, None, raw))
    return out


def test_a_json_number_with_17_significant_digits_arrives_unchanged() -> None:
    """1234567890.1234567 (17 digits) is read as Decimal and written back digit for digit (a double gave ...123457)."""
    value = _value(b'{"amount": 1234567890.1234567, "small": 0.00012345678901234567, "n": 1.5}')
    assert value == {"amount": Decimal("1234567890.1234567"), "small": Decimal("0.00012345678901234567"), "n": 1.5}
    assert encode(value) == b'{"amount":1234567890.1234567,"small":0.00012345678901234567,"n":1.5}'


def test_integers_beyond_64_bits_and_long_mantissas_are_exact() -> None:
    """orjson turns integers past 2**64 into doubles; they come back exact (as Decimal, written as integers)."""
    value = _value(b'{"big": 123456789012345678901234567890, "u64": 18446744073709551615, "e": 12345678901234567e2}')
    assert value["u64"] == 2**64 - 1 and isinstance(value["u64"], int)
    assert value["big"] == Decimal("123456789012345678901234567890")
    assert value["e"] == Decimal("12345678901234567E+2")
    assert encode(value) == b'{"big":123456789012345678901234567890,"u64":18446744073709551615,"e":1234567890123456700}'


def test_the_fast_path_keeps_orjson_types() -> None:
    """Numbers a double carries stay int/float; digit runs inside strings never change anything."""
    raw = b'{"a": 0.1, "b": 123456789012345, "c": "s-0000000000012345678", "d": [1.25, "x:12345678901234567"]}'
    value = _value(raw)
    assert value == orjson.loads(raw)
    assert type(value["a"]) is float and type(value["b"]) is int
    from connector.serde.json import loads_exact

    assert loads_exact(b"1234567890.1234567") == Decimal("1234567890.1234567")
    assert loads_exact(b'"123456789012345678"') == "123456789012345678"


def test_which_tokens_a_double_loses() -> None:
    """15 significant digits fit a double; 16 or more are read exactly; integers in the 64-bit range fit."""
    from connector.serde.json import double_loses

    assert not double_loses(b"12345678901234.5e3") and double_loses(b"123456789012345.0e3")  # zeros written count
    assert not double_loses(b"0.000123456789012345")
    assert double_loses(b"1234567890123456.0")
    assert not double_loses(b"-9223372036854775808") and double_loses(b"-9223372036854775809")


def test_invalid_json_still_gets_its_reason() -> None:
    """Bad bytes keep their dead-letter reasons whatever path the numbers take."""
    with pytest.raises(DecodeError) as err:
        decode_json_bytes(b'{"a": 1234567890.1234567,')
    assert err.value.reason == "invalid-json"
    with pytest.raises(DecodeError) as err:
        decode_json_bytes(b'{"a": NaN, "b": 1234567890.1234567}')
    assert err.value.reason == "invalid-json"


DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=24)


@given(DIGITS, DIGITS, st.booleans())
def test_any_decimal_number_round_trips_digit_for_digit(whole: str, fraction: str, negative: bool) -> None:
    """Any JSON number text decodes and re-encodes to the same value; with 16+ digits to the same text."""
    token = ("-" if negative else "") + (whole.lstrip("0") or "0") + "." + fraction
    value = _value(b'{"x": ' + token.encode() + b"}")["x"]
    assert Decimal(encode({"x": value})[5:-1].decode()) == Decimal(token)
    if isinstance(value, Decimal):
        assert encode({"x": value}) == b'{"x":' + token.encode() + b"}"
    else:
        assert orjson.loads(token) == value
