"""Exact decimals: a Decimal stays exact through the functions, the mapper and the envelope bytes."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import fastavro
import orjson
import pytest

from connector.mapping.functions import REGISTRY
from connector.mapping.values import clean, to_text
from connector.records import SourceRecord
from connector.serde.avro import PlainAvroDeserializer
from connector.serde.json import JsonDeserializer
from tests.unit.mapping.helpers import BASE, compile_one, record

D = Decimal
MONEY = D("9999999999999999.99")
EIGHTEEN = D("1234567890123456.78")


def encode(envelope: dict[str, Any]) -> bytes:
    """The envelope serialiser (imported here so the behaviour tests run, and fail, on code without it)."""
    from connector.mapping.envelope import encode as encode_envelope

    return encode_envelope(envelope)


def fn(name: str, *args: Any) -> Any:
    impl = REGISTRY[name].impl
    assert impl is not None
    return impl(*args)


def test_envelope_bytes_carry_the_exact_digits() -> None:
    """9999999999999999.99 and 1234567890123456.78 leave as those JSON numbers (float() made 1e+16 and ...456.8)."""
    body = encode({"a": MONEY, "b": [EIGHTEEN, D("12.50"), D("-0.000001")], "c": 1.5, "d": 7})
    assert body == b'{"a":9999999999999999.99,"b":[1234567890123456.78,12.50,-0.000001],"c":1.5,"d":7}'
    assert orjson.loads(encode({"x": D("1E+60")})) == {"x": 1e60}
    assert encode({"x": D("1.5E+60")}) == b'{"x":1.5E+60}'


def test_clean_keeps_decimals_and_drops_non_finite_ones() -> None:
    """clean() keeps a Decimal as it is (it used to become a float); NaN and infinity are left out like floats."""
    assert clean({"a": MONEY, "b": D("NaN"), "c": [D("Infinity"), D("0.10")]}) == {"a": MONEY, "c": [D("0.10")]}
    assert clean(MONEY) is MONEY


@pytest.mark.parametrize(
    ("value", "text"),
    [(MONEY, "9999999999999999.99"), (D("12.50"), "12.50"), (D("1E+3"), "1000"), (D("-0.000001"), "-0.000001")],
)
def test_to_string_writes_the_exact_digits(value: Decimal, text: str) -> None:
    """to_string / concat / the text functions see a Decimal's digits, scale kept, no exponent for ordinary sizes."""
    from connector.numbers import decimal_text

    assert to_text(value) == text == decimal_text(value) == fn("to_string", value)
    assert fn("concat", "EUR ", value) == f"EUR {text}"
    assert to_text({"v": value}) == f'{{"v":{text}}}'


def test_arithmetic_on_decimals_is_exact() -> None:
    """add/sub/mul/sum are exact; a float operand counts as its shortest text (0.1 is 0.1); div has 34 digits."""
    assert fn("add", EIGHTEEN, 1) == D("1234567890123457.78")
    assert fn("sub", MONEY, D("0.99")) == D("9999999999999999.00")
    assert fn("mul", EIGHTEEN, 100) == D("123456789012345678.00")
    assert fn("add", D("0.1"), 0.2) == D("0.3")
    assert fn("sum", [MONEY, D("0.01"), 1, 0.5]) == D("10000000000000001.50")
    assert fn("div", D("10.00"), 4) == D("2.50")
    assert fn("div", 1, D(3)) == D("0.3333333333333333333333333333333333")
    assert fn("abs", D("-1234567890123456789012345678901234.5")) == D("1234567890123456789012345678901234.5")
    assert fn("add", "12345678901234567.5", 0) == D("12345678901234567.5")  # long numeric text is read exactly
    assert fn("add", "12345678901234567890", 1) == 12345678901234567891


def test_comparisons_and_rounding_of_decimals() -> None:
    """Comparisons with floats use the float's shortest text; round is half away from zero, exact, Decimal out."""
    assert fn("eq", D("0.1"), 0.1) is True and fn("ne", D("0.10"), 0.1) is False
    assert fn("gt", D("1234567890123456.79"), EIGHTEEN) is True
    assert fn("lt", EIGHTEEN, 1234567890123456.8) is True
    assert fn("round", D("2.345"), 2) == D("2.35") and isinstance(fn("round", D("2.345"), 2), Decimal)
    assert fn("round", D("-2.5")) == -3 and isinstance(fn("round", D("2.5")), int)
    assert fn("round", MONEY, 1) == D("10000000000000000.0")


def test_conversions_of_decimals() -> None:
    """to_int truncates exactly; to_float is the explicit way to a double; to_decimal reads text digit for digit."""
    assert fn("to_int", D("12345678901234567.9")) == 12345678901234567
    assert fn("to_int", "12345678901234567.9") == 12345678901234567
    assert fn("to_float", MONEY) == 1e16
    assert fn("to_decimal", "1234567890123456.78") == EIGHTEEN
    assert str(fn("to_decimal", "12.50")) == "12.50"
    assert fn("to_decimal", 0.1) == D("0.1") and fn("to_decimal", 7) == D(7)
    assert fn("to_bool", D("0.00")) is False and fn("to_bool", MONEY) is True


def test_a_mapping_keeps_decimals_from_avro_and_json_to_the_envelope() -> None:
    """Avro decimal (bytes and fixed, any scale) and a 17-digit JSON number reach the envelope bytes digit for digit."""
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "Payment",
            "fields": [
                {"name": "email", "type": "string"},
                {"name": "ts", "type": "string"},
                {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}},
                {
                    "name": "rate",
                    "type": {"type": "fixed", "name": "R", "size": 16, "logicalType": "decimal", "precision": 38,
                             "scale": 20},
                },
            ],
        }
    )  # fmt: skip
    rate = D("0.12345678901234567890")
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, {"email": "a@b.c", "ts": "2020-01-01T00:00:00Z", "amount": EIGHTEEN,
                                             "rate": rate})  # fmt: skip
    avro_value = PlainAvroDeserializer(schema)(_rec(buf.getvalue()))
    assert avro_value["amount"] == EIGHTEEN and avro_value["rate"] == rate
    json_value = JsonDeserializer()(_rec(b'{"email":"a@b.c","ts":"2020-01-01T00:00:00Z","amount":0.12345678901234567,'
                                         b'"rate":12345678901234567}'))  # fmt: skip
    spec = BASE + (
        "fields:\n  timestamp: value.ts\n  _acme:\n    amount: value.amount\n    rate: value.rate\n"
        "    label: concat('total ', value.amount)\n    double: to_float(value.amount)\n"
    )
    mapping = compile_one(spec)
    entity = mapping.map(record(), avro_value)["body"]["xdmEntity"]["_acme"]
    assert entity["amount"] == EIGHTEEN and isinstance(entity["amount"], Decimal)  # float() made ...456.8
    raw = encode(mapping.map(record(), avro_value))
    assert b'"amount":1234567890123456.78' in raw and b'"rate":0.12345678901234567890' in raw
    assert b'"label":"total 1234567890123456.78"' in raw and b'"double":1234567890123456.8' in raw
    raw = encode(mapping.map(record(), json_value))
    assert b'"amount":0.12345678901234567' in raw and b'"rate":12345678901234567' in raw


def _rec(value: bytes) -> SourceRecord:
    return SourceRecord("t", 0, 0, None, value)


def test_an_integer_past_64_bits_is_written_digit_for_digit() -> None:
    """`to_int` of a large double (exactly 2**64 here) used to make orjson raise at encode time.

    Found by the mutated-samples property; the record was dead-lettered as `mapping-failed:
    TypeError: Integer exceeds 64-bit range`. It is now written exactly, like every other number.
    """
    from connector.numbers import json_bytes

    to_int = REGISTRY["to_int"].impl
    assert to_int is not None
    big = to_int(1.8446744073709552e19)
    assert big == 2**64
    assert encode({"body": {"n": big, "m": [-(2**70)], "ok": 1}}) == (
        b'{"body":{"n":18446744073709551616,"m":[-1180591620717411303424],"ok":1}}'
    )
    assert json_bytes({"n": 2**64, "d": D("1.10")}, sort_keys=True) == b'{"d":1.10,"n":18446744073709551616}'
