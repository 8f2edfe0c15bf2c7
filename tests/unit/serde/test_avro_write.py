"""JSON-shaped values encoded by a writer schema: logical types from strings, unions, framing, named errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import fastavro
import pytest

from connector.serde.avro_write import AvroEncodeError, AvroEncoder

SCHEMA = {
    "type": "record",
    "name": "Order",
    "namespace": "acme",
    "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "when", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": None},
        {"name": "raw", "type": "bytes"},
        {"name": "lines", "type": {"type": "array", "items": {
            "type": "record", "name": "Line", "fields": [{"name": "sku", "type": "string"}]}}},
        {"name": "again", "type": ["null", "Line"], "default": None},
    ],
}  # fmt: skip
VALUE = {
    "at": "2024-06-01T10:00:00Z", "day": "2024-06-01", "total": "42.94", "note": "hi",
    "when": "2024-06-01T10:00:00.123456+02:00", "raw": "\u00ff\u0001", "lines": [{"sku": "A"}], "again": {"sku": "B"},
}  # fmt: skip


def _read(data: bytes) -> dict[str, object]:
    out = fastavro.schemaless_reader(BytesIO(data), fastavro.parse_schema(SCHEMA), None)
    assert isinstance(out, dict)
    return out


def test_json_values_become_avro_logical_types() -> None:
    """RFC 3339 strings, ISO dates, decimal strings, latin-1 bytes, nested records and named types in unions."""
    decoded = _read(AvroEncoder(json.dumps(SCHEMA))(VALUE))
    assert decoded["at"] == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert decoded["day"] == date(2024, 6, 1) and decoded["total"] == Decimal("42.94")
    assert decoded["when"] == datetime(2024, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert decoded["raw"] == b"\xff\x01" and decoded["again"] == {"sku": "B"} and decoded["note"] == "hi"


def test_confluent_framing_carries_the_schema_id() -> None:
    """Magic byte 0, the id big-endian in 4 bytes, then the schemaless body."""
    plain = AvroEncoder(json.dumps(SCHEMA))(VALUE)
    framed = AvroEncoder(json.dumps(SCHEMA), schema_id=258)(VALUE)
    assert framed == b"\x00\x00\x00\x01\x02" + plain


def test_bad_values_name_the_field() -> None:
    """A timestamp without offset, a wrong type and a missing field are refused with the field's name."""
    encode = AvroEncoder(json.dumps(SCHEMA), origin="order.avsc")
    with pytest.raises(AvroEncodeError, match="at: timestamp '2024-06-01T10:00:00' has no UTC offset"):
        encode({**VALUE, "at": "2024-06-01T10:00:00"})
    with pytest.raises(AvroEncodeError, match=r"not valid for order.avsc: acme.Line.sku is <5>"):
        encode({**VALUE, "lines": [{"sku": 5}]})
    with pytest.raises(AvroEncodeError, match="day"):
        encode({k: v for k, v in VALUE.items() if k != "day"})


def test_an_invalid_schema_is_refused_up_front() -> None:
    with pytest.raises(AvroEncodeError, match="not a valid Avro schema"):
        AvroEncoder('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}')
