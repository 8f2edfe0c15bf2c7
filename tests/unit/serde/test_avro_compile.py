"""The compiled Avro reader against fastavro: same values (same types, same digits), same dead-letter reasons.

`read_exact` (compiled reader, fastavro when in doubt) must give exactly what `read_slow`
(fastavro only, the behaviour before the compiled reader) gives, for random schemas with random
valid data and for the same data truncated, extended and with bytes overwritten.
"""

from __future__ import annotations

import io
import itertools
import struct
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.errors import DecodeError
from connector.records import SourceRecord
from connector.serde.avro import AvroDeserializer, read_exact, read_slow
from connector.serde.avro_compile import _long, compile_reader

_names = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


_LEAVES = st.sampled_from(
    [
        "null",
        "boolean",
        "int",
        "long",
        "float",
        "double",
        "bytes",
        "string",
        {"type": "long", "logicalType": "timestamp-millis"},
        {"type": "long", "logicalType": "timestamp-micros"},
        {"type": "long", "logicalType": "local-timestamp-millis"},
        {"type": "long", "logicalType": "local-timestamp-micros"},
        {"type": "int", "logicalType": "date"},
        {"type": "int", "logicalType": "time-millis"},
        {"type": "long", "logicalType": "time-micros"},
        {"type": "string", "logicalType": "uuid"},
        {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
        {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 0},
        {"type": "string", "logicalType": "unknown-to-fastavro"},
    ]
)


@st.composite
def _named_leaf(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["enum", "fixed", "fixed-decimal"]))
    if kind == "enum":
        return {
            "type": "enum",
            "name": _name("E"),
            "symbols": draw(st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=4, unique=True)),
        }
    if kind == "fixed":
        return {"type": "fixed", "name": _name("F"), "size": draw(st.integers(0, 5))}
    return {"type": "fixed", "name": _name("D"), "size": 6, "logicalType": "decimal", "precision": 14, "scale": 3}


def _record(fields: list[Any]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": _name("R"),
        "fields": [{"name": f"f{i}", "type": t} for i, t in enumerate(fields)],
    }


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    non_union = children.filter(lambda s: not isinstance(s, list) and s != "null")
    return st.one_of(
        st.builds(lambda t: {"type": "array", "items": t}, children),
        st.builds(lambda t: {"type": "map", "values": t}, children),
        st.builds(lambda t: ["null", t], non_union),
        st.builds(lambda a, b: ["null", a, b], st.sampled_from(["int", "string"]), _named_leaf()),
        st.builds(_record, st.lists(children, min_size=0, max_size=4)),
    )


SCHEMAS = st.builds(
    _record, st.lists(st.recursive(_LEAVES | _named_leaf(), _extend, max_leaves=8), min_size=1, max_size=5)
)


_LOGICAL = (
    "timestamp-millis",
    "timestamp-micros",
    "local-timestamp-millis",
    "local-timestamp-micros",
    "date",
    "time-millis",
    "time-micros",
    "uuid",
    "decimal",
)


def _logical_value(schema: dict[str, Any], draw: st.DrawFn) -> Any:
    logical = schema["logicalType"]
    if logical in ("timestamp-millis", "timestamp-micros"):
        return draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
    if logical in ("local-timestamp-millis", "local-timestamp-micros"):
        return draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    if logical == "date":
        return draw(st.dates())
    if logical in ("time-millis", "time-micros"):
        return draw(st.times())
    if logical == "uuid":
        return draw(st.uuids())
    digits = schema["precision"]  # decimal
    return Decimal(draw(st.integers(-(10**digits) + 1, 10**digits - 1))).scaleb(-schema.get("scale", 0))


def _value(schema: Any, draw: st.DrawFn) -> Any:
    if isinstance(schema, list):
        return _value(draw(st.sampled_from(schema)), draw)
    if isinstance(schema, str):
        schema = {"type": schema}
    if schema.get("logicalType") in _LOGICAL:
        return _logical_value(schema, draw)
    kind = schema["type"]
    simple = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "float": st.floats(width=32),
        "double": st.floats(),
        "bytes": st.binary(max_size=20),
        "string": st.text(max_size=10),
    }
    if kind in simple:
        return draw(simple[kind])
    if kind == "enum":
        return draw(st.sampled_from(schema["symbols"]))
    if kind == "fixed":
        return draw(st.binary(min_size=schema["size"], max_size=schema["size"]))
    if kind == "array":
        return [_value(schema["items"], draw) for _ in range(draw(st.integers(0, 3)))]
    if kind == "map":
        return {draw(st.text(max_size=4)): _value(schema["values"], draw) for _ in range(draw(st.integers(0, 3)))}
    return {f["name"]: _value(f["type"], draw) for f in schema["fields"]}


@st.composite
def schema_and_data(draw: st.DrawFn) -> tuple[Any, bytes]:
    schema = draw(SCHEMAS)
    parsed = fastavro.parse_schema(schema)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, _value(schema, draw))
    return parsed, buf.getvalue()


def outcome(fn: Any, data: bytes, schema: Any) -> str:
    """repr shows types and digits (True vs 1, 1.0 vs 1, Decimal('1.50'), tz-aware datetimes)."""
    try:
        return repr(fn(data, 0, schema, "value", "the test schema"))
    except DecodeError as exc:
        return f"DecodeError({exc.reason!r}, {exc.message!r})"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_data())
def test_valid_data_decodes_to_exactly_what_fastavro_gives(case: tuple[Any, bytes]) -> None:
    schema, data = case
    fast = compile_reader(schema)
    assert fast is not None
    # the compiled reader itself (no fallback to fastavro) reads every valid datum, to the same value
    assert repr(fast(data, 0)) == outcome(read_slow, data, schema)
    assert outcome(read_exact, data, schema) == outcome(read_slow, data, schema)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_data(), st.data())
def test_damaged_data_gets_what_fastavro_gives(case: tuple[Any, bytes], data: st.DataObject) -> None:
    schema, good = case
    how = data.draw(st.sampled_from(["truncate", "extend", "overwrite", "random"]))
    if how == "truncate":
        bad = good[: data.draw(st.integers(0, max(0, len(good) - 1)))]
    elif how == "extend":
        bad = good + data.draw(st.binary(min_size=1, max_size=3))
    elif how == "overwrite" and good:
        at = data.draw(st.integers(0, len(good) - 1))
        patch = data.draw(st.binary(min_size=1, max_size=3))
        bad = good[:at] + patch + good[at + len(patch) :]
    else:
        bad = data.draw(st.binary(max_size=30))
    assert outcome(read_exact, bad, schema) == outcome(read_slow, bad, schema)


LONGS = fastavro.parse_schema(
    {"type": "record", "name": "L", "fields": [{"name": "i", "type": "int"}, {"name": "b", "type": "boolean"}]}
)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff" * 9 + b"\x01\x00",  # 10-byte varint, the widest 64-bit value
        b"\xff" * 10 + b"\x01\x00",  # 11 bytes: wider than 64 bits
        b"\xff" * 9 + b"\x7f\x00",  # 10 bytes with bits beyond 64
        b"\x02\x02",  # boolean byte 2: fastavro reads it as True
        b"\x02\xff",
        b"\x80\x80\x80\x80\x10\x01",  # an "int" beyond 32 bits
    ],
)
def test_edge_encodings_read_as_fastavro_reads_them(data: bytes) -> None:
    assert outcome(read_exact, data, LONGS) == outcome(read_slow, data, LONGS)


def test_negative_enum_union_and_length_indexes_are_left_to_fastavro() -> None:
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "N",
            "fields": [
                {"name": "e", "type": {"type": "enum", "name": "En", "symbols": ["A", "B"]}},
                {"name": "u", "type": ["null", "string"]},
                {"name": "s", "type": "bytes"},
            ],
        }
    )
    for data in (b"\x01\x00\x00", b"\x00\x01\x00", b"\x00\x00\x01", b"\x00\x00\x03abc"):
        assert outcome(read_exact, data, schema) == outcome(read_slow, data, schema)


def test_multi_byte_varints_decode_at_every_width() -> None:
    for n in (128, 300, 2**14 - 1, 2**14, 2**21 - 1, 2**21, 2**35, 2**63 - 1, 2**63, 2**64 - 1):
        raw = bytearray()
        m = n
        while True:
            byte = m & 0x7F
            m >>= 7
            raw.append(byte | (0x80 if m else 0))
            if not m:
                break
        assert _long(bytes(raw) + b"\x00", 1, raw[0]) == ((n >> 1) ^ -(n & 1), len(raw))


def test_recursive_named_types_and_references_compile() -> None:
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "Node",
            "namespace": "t",
            "fields": [
                {"name": "label", "type": {"type": "enum", "name": "Label", "symbols": ["X", "Y"]}},
                {"name": "again", "type": "Label"},
                {"name": "next", "type": ["null", "Node"]},
            ],
        }
    )
    assert compile_reader(schema) is not None
    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf, schema, {"label": "Y", "again": "X", "next": {"label": "X", "again": "Y", "next": None}}
    )
    data = buf.getvalue()
    assert outcome(read_exact, data, schema) == outcome(read_slow, data, schema)


def test_float_bytes_are_read_as_fastavro_reads_them() -> None:
    schema = fastavro.parse_schema(
        {"type": "record", "name": "Fl", "fields": [{"name": "f", "type": "float"}, {"name": "d", "type": "double"}]}
    )
    for f, d in (
        (b"\x00\x00\xc0\x7f", b"\x01\x00\x00\x00\x00\x00\xf0\x7f"),
        (struct.pack("<f", 1.1), struct.pack("<d", -0.0)),
    ):
        assert outcome(read_exact, f + d, schema) == outcome(read_slow, f + d, schema)


def test_enums_and_unions_wider_than_one_index_byte() -> None:
    symbols = [f"S{i}" for i in range(100)]
    branches: list[Any] = ["null", *({"type": "fixed", "name": f"X{i}", "size": 1} for i in range(99))]
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "Wide",
            "fields": [
                {"name": "e", "type": {"type": "enum", "name": "Many", "symbols": symbols}},
                {"name": "u", "type": branches},
            ],
        }
    )
    assert compile_reader(schema) is not None
    for e, u in (("S0", None), ("S63", b"a"), ("S64", b"b"), ("S99", b"c")):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, {"e": e, "u": u})
        data = buf.getvalue()
        assert outcome(read_exact, data, schema) == outcome(read_slow, data, schema)
        assert f"'e': '{e}'" in outcome(read_exact, data, schema)


def test_deserializer_hot_path_keeps_every_reason_after_a_good_record() -> None:
    schema = fastavro.parse_schema(
        {"type": "record", "name": "P", "fields": [{"name": "s", "type": "string"}, {"name": "n", "type": "long"}]}
    )
    asked: list[int] = []

    def lookup(schema_id: int) -> Any:
        asked.append(schema_id)
        return schema

    decode = AvroDeserializer(lookup)
    good = b"\x00\x00\x00\x00\x07" + b"\x04hi\x02"

    def record(value: bytes | None) -> SourceRecord:
        return SourceRecord("t", 0, 0, None, value, (), 0)

    assert decode(record(good)) == {"s": "hi", "n": 1}
    assert decode(record(bytearray(good))) == {"s": "hi", "n": 1}  # type: ignore[arg-type]
    bad = [None, b"", b"\x00\x00", b"\x01" + good[1:], good + b"\x00", good[:-1], good[:5] + b"\x04h\xff\x02"]
    for value in bad:
        with pytest.raises(DecodeError) as fast:
            decode(record(value))
        with pytest.raises(DecodeError) as fresh:
            AvroDeserializer(lambda _: schema)(record(value))
        assert (fast.value.reason, fast.value.message) == (fresh.value.reason, fresh.value.message)
    assert asked == [7]  # the schema is fetched once, then served by the compiled reader's cache
