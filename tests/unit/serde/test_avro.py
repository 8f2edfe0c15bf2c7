"""Avro values: framed (registry) and plain (local schema), logical types, evolution, failure reasons."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import DecodeError, RetriableError
from connector.records import SourceRecord
from connector.serde.avro import AvroDeserializer, PlainAvroDeserializer, load_schema_file
from tests.unit.serde.fakes import SAMPLES, FakeRegistry, avro_bytes, client_for, framed, response, sample_schema

V1 = sample_schema("loyalty-event.avsc")
V2 = sample_schema("loyalty-event-v2.avsc")
EVENT = {
    "event_id": 15367038,
    "event_type": "loyaltyBalanceUpdate",
    "event_time": datetime(2020, 3, 3, 6, 34, 55, tzinfo=UTC),
    "loyalty_id": "fstarr7@answers.com",
    "points_earned": 800,
    "total_points": 211050,
    "loyalty_level": "Platinum",
}
SUB = {"type": "record", "name": "Sub", "fields": [{"name": "x", "type": "int"}]}
TYPES = {
    "type": "record",
    "name": "Types",
    "fields": [
        {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "t_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "t_us", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {
            "name": "fixed_amount",
            "type": {"type": "fixed", "name": "F8", "size": 8, "logicalType": "decimal", "precision": 12, "scale": 3},
        },
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}},
        {"name": "maybe", "type": ["null", "string"], "default": None},
        {"name": "choice", "type": ["null", "long", SUB]},
        {"name": "raw", "type": "bytes"},
        {"name": "fx", "type": {"type": "fixed", "name": "Two", "size": 2}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "double"}},
    ],
}
TYPED = {
    "ts_ms": datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC),
    "ts_us": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    "day": date(2024, 2, 29),
    "t_ms": time(23, 59, 58, 999000),
    "t_us": time(1, 2, 3, 4),
    "amount": Decimal("1234.50"),
    "fixed_amount": Decimal("-7.125"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "colour": "GREEN",
    "maybe": None,
    "choice": {"x": 3},
    "raw": b"\x00\xff",
    "fx": b"ab",
    "tags": ["a", "b"],
    "attrs": {"k": 1.5},
}


def rec(value: bytes | None, key: bytes | None = None) -> SourceRecord:
    return SourceRecord("t", 0, 42, key, value)


def registry() -> FakeRegistry:
    fake = FakeRegistry()
    fake.add(1, V1)
    fake.add(2, V2)
    fake.add(3, TYPES)
    return fake


def deserializer(fake: FakeRegistry | None = None) -> AvroDeserializer:
    return AvroDeserializer(client_for(fake or registry()).writer_schema)


def reason(fn: Any, record: SourceRecord) -> str:
    with pytest.raises(DecodeError) as info:
        fn(record)
    return info.value.reason


def test_decodes_a_framed_record() -> None:
    """Magic byte, schema id, Avro body -> the record as a dict."""
    assert deserializer()(rec(framed(1, V1, EVENT))) == EVENT


def test_logical_types_arrive_as_python_values() -> None:
    """timestamp -> aware datetime, date, time, Decimal, UUID, enum str, unions bare, bytes."""
    out = deserializer()(rec(framed(3, TYPES, TYPED)))
    assert out == TYPED
    assert out["ts_ms"].tzinfo is not None
    assert type(out["choice"]) is dict  # no (name, value) tuples for unions
    assert type(out["colour"]) is str
    assert type(out["raw"]) is bytes


def test_union_branches_come_back_bare() -> None:
    """Every union branch is the plain value, never a tagged tuple."""
    d = deserializer()
    for choice in (None, 5, {"x": 1}):
        out = d(rec(framed(3, TYPES, {**TYPED, "choice": choice, "maybe": "m"})))
        assert out["choice"] == choice
        assert out["maybe"] == "m"


def test_schema_evolution_each_record_reads_with_its_writer_schema() -> None:
    """v1 records lack transaction_id, v2 records carry it (or None); both decode on one topic."""
    d = deserializer()
    old = d(rec(framed(1, V1, EVENT)))
    new = d(rec(framed(2, V2, {**EVENT, "transaction_id": "tx-1"})))
    new_null = d(rec(framed(2, V2, {**EVENT, "transaction_id": None})))
    assert "transaction_id" not in old
    assert new["transaction_id"] == "tx-1"
    assert new_null["transaction_id"] is None


def test_tombstone_and_empty_values() -> None:
    """A null value is a tombstone; zero bytes is empty-value."""
    d = deserializer()
    assert reason(d, rec(None)) == "tombstone"
    assert reason(d, rec(b"")) == "empty-value"


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x00\x00\x01", b"\x01\x00\x00\x00\x01\x02", b'{"a": 1}'])
def test_not_framed(data: bytes) -> None:
    """Shorter than 5 bytes or no magic byte 0: not-avro-framed."""
    assert reason(deserializer(), rec(data)) == "not-avro-framed"


def test_unknown_schema_id() -> None:
    """An id the registry answers 404 for: unknown-schema-id."""
    assert reason(deserializer(), rec(framed(404, V1, EVENT))) == "unknown-schema-id"


def test_truncated_at_every_length_is_corrupt() -> None:
    """Every proper prefix of a record's body is corrupt-avro."""
    d = deserializer()
    data = framed(1, V1, EVENT)
    for n in range(5, len(data)):
        assert reason(d, rec(data[:n])) == "corrupt-avro", n


def test_trailing_bytes_are_corrupt() -> None:
    """Bytes left over after one datum mean a wrong schema or a damaged record."""
    with pytest.raises(DecodeError) as info:
        deserializer()(rec(framed(1, V1, EVENT) + b"\x00\x01"))
    assert info.value.reason == "corrupt-avro"
    assert "2 trailing bytes" in info.value.message


def test_record_written_with_another_schema_is_corrupt() -> None:
    """A v1 body framed with the types schema id does not read cleanly."""
    assert reason(deserializer(), rec(b"\x00\x00\x00\x00\x03" + avro_bytes(V1, EVENT))) == "corrupt-avro"


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=80), schema_id=st.sampled_from([1, 2, 3]))
def test_garbage_only_ever_raises_decode_error(body: bytes, schema_id: int) -> None:
    """Random bodies either decode exactly or fail as corrupt-avro; nothing else escapes."""
    d = deserializer()
    try:
        d(rec(b"\x00" + schema_id.to_bytes(4, "big") + body))
    except DecodeError as exc:
        assert exc.reason == "corrupt-avro"


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=40))
def test_any_bytes_give_a_value_or_a_decode_error(data: bytes) -> None:
    """Whatever arrives on the topic, the result is a value or a DecodeError with a known reason."""
    try:
        deserializer()(rec(data))
    except DecodeError as exc:
        assert exc.reason in {"empty-value", "not-avro-framed", "unknown-schema-id", "corrupt-avro"}


def test_registry_outage_is_retriable_not_a_decode_error() -> None:
    """Registry down for an uncached id: RetriableError; cached ids keep decoding; asked again after the cool-down."""
    fake = registry()
    now = [0.0]
    d = AvroDeserializer(client_for(fake, clock=lambda: now[0]).writer_schema)
    d(rec(framed(1, V1, EVENT)))
    fake.fault = lambda _r: requests.ConnectionError("refused")
    assert d(rec(framed(1, V1, EVENT))) == EVENT
    with pytest.raises(RetriableError):
        d(rec(framed(2, V2, {**EVENT, "transaction_id": None})))
    now[0] += 60.0
    fake.fault = lambda _r: response(503)
    with pytest.raises(RetriableError):
        d(rec(framed(2, V2, {**EVENT, "transaction_id": None})))
    now[0] += 60.0
    fake.fault = None
    assert d(rec(framed(2, V2, {**EVENT, "transaction_id": None})))["transaction_id"] is None


def test_plain_avro_with_local_schema() -> None:
    """Schemaless bytes decode with the .avsc writer schema."""
    d = PlainAvroDeserializer.from_file(SAMPLES / "loyalty-event.avsc")
    assert d(rec(avro_bytes(V1, EVENT))) == EVENT


def test_plain_avro_failures() -> None:
    """Tombstone, empty, truncated and trailing bytes each have their reason."""
    d = PlainAvroDeserializer.from_file(SAMPLES / "loyalty-event.avsc")
    data = avro_bytes(V1, EVENT)
    assert reason(d, rec(None)) == "tombstone"
    assert reason(d, rec(b"")) == "empty-value"
    assert reason(d, rec(data[:-3])) == "corrupt-avro"
    assert reason(d, rec(data + b"\x02")) == "corrupt-avro"


def test_plain_avro_hints_at_framed_input() -> None:
    """A framed record on a plain topic fails with a hint to use format avro."""
    d = PlainAvroDeserializer.from_file(SAMPLES / "loyalty-event.avsc")
    with pytest.raises(DecodeError, match="format: avro"):
        d(rec(framed(1, V1, EVENT)))


def test_schema_file_problems(tmp_path: Path) -> None:
    """Missing, non-JSON and invalid .avsc files are reported with the path."""
    bad_json = tmp_path / "a.avsc"
    bad_json.write_text("{nope")
    bad_avro = tmp_path / "b.avsc"
    bad_avro.write_text('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "nosuch"}]}')
    for path, text in [(tmp_path / "missing.avsc", "cannot read"), (bad_json, "not valid JSON"), (bad_avro, "nosuch")]:
        with pytest.raises(ValueError, match=text):
            load_schema_file(path)


DIGITS = {
    "type": "record",
    "name": "Digits",
    "fields": [
        {"name": "b", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}},
        {"name": "f", "type": {"type": "fixed", "name": "F9", "size": 9, "logicalType": "decimal",
                               "precision": 4, "scale": 2}},
        {"name": "big", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 10}},
    ],
}
RAW_DIGITS = {
    "type": "record",
    "name": "RawDigits",
    "fields": [{"name": "b", "type": "bytes"}, {"name": "f", "type": {"type": "fixed", "name": "R9", "size": 9}},
               {"name": "big", "type": "bytes"}],
}


def test_decimals_arrive_digit_for_digit_even_beyond_their_declared_precision() -> None:
    """fastavro read an unscaled 123456 (scale 2) of a decimal(4,2) as 1235; the bytes say 1234.56."""
    big = -12345678901234567890123456789012345678
    body = avro_bytes(RAW_DIGITS, {"b": (123456).to_bytes(3, "big", signed=True),
                                   "f": (-123456).to_bytes(9, "big", signed=True),
                                   "big": big.to_bytes(17, "big", signed=True)})
    fake = FakeRegistry()
    fake.add(9, DIGITS)
    framed_body = b"\x00" + (9).to_bytes(4, "big") + body
    for decode in (deserializer(fake), PlainAvroDeserializer(fastavro.parse_schema(DIGITS))):
        value = framed_body if isinstance(decode, AvroDeserializer) else body
        for _ in range(2):  # the first record of a schema and the compiled reader after it
            out = decode(rec(value))
            assert [str(out["b"]), str(out["f"]), str(out["big"])] == [
                "1234.56", "-1234.56", "-1234567890123456789012345678.9012345678"]
    assert str(decode(rec(avro_bytes(RAW_DIGITS, {"b": b"", "f": bytes(9), "big": b"\x00"})))["f"]) == "0.00"
