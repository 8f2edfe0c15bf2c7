"""corrupt-avro messages say what is wrong: the field, the byte position and the problem (never `EOFError: `)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import DecodeError
from connector.serde.avro import PlainAvroDeserializer
from tests.unit.serde.fakes import FakeRegistry, framed
from tests.unit.serde.test_avro import TYPED, TYPES, deserializer, rec

COLOUR = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}
_FIELD = re.compile(r": field [\w.\[\]]+ \([^)]+\) at byte \d+ of \d+$")


def one_field(name: str, schema: Any) -> dict[str, Any]:
    return {"type": "record", "name": "One", "fields": [{"name": name, "type": schema}]}


def message(schema: Any, body: bytes) -> str:
    """The corrupt-avro message for `body` framed with schema id 9 (registered as `schema`)."""
    fake = FakeRegistry()
    fake.add(9, schema)
    with pytest.raises(DecodeError) as info:
        deserializer(fake)(rec(b"\x00\x00\x00\x00\x09" + body))
    assert info.value.reason == "corrupt-avro"
    return info.value.message


def test_every_truncation_names_the_field_it_cuts() -> None:
    """Each proper prefix of a record with every Avro type says 'truncated' and which field, where."""
    data = framed(3, TYPES, TYPED)
    for n in range(5, len(data)):
        with pytest.raises(DecodeError) as info:
            deserializer()(rec(data[:n]))
        text = info.value.message
        assert text.startswith("record value is not valid Avro for schema id 3: truncated"), (n, text)
        assert _FIELD.search(text), (n, text)
        assert f"of {n}" in text and "EOFError" not in text


@pytest.mark.parametrize(
    ("schema", "body", "expected"),
    [
        (one_field("colour", COLOUR), b"\x0a",
         "enum symbol index 5 (the enum has 2 symbols): field colour (enum Colour) at byte 5 of 6"),
        (one_field("maybe", ["null", "string"]), b"\x08",
         "union branch index 4 (the union has 2 branches): field maybe (union) at byte 5 of 6"),
        (one_field("name", "string"), b"\x01abc", "negative length -1: field name (string) at byte 5 of 9"),
        (one_field("name", "string"), b"\x04\xff\xfe",
         "not UTF-8 (invalid start byte at byte 0 of the string): field name (string) at byte 6 of 8"),
        (one_field("blob", "bytes"), b"\x20ab",
         "truncated, length 16 but 2 byte(s) left: field blob (bytes) at byte 5"),
        (one_field("n", "long"), b"\xff" * 11, "bad number, a varint of more than 10 bytes: field n (long) at byte 5"),
        (one_field("ts", {"type": "long", "logicalType": "timestamp-millis"}), b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f",
         "value 4611686018427387903 is out of range for a calendar date: field ts (long, timestamp-millis)"),
        (one_field("id", {"type": "string", "logicalType": "uuid"}), b"\x06abc",
         "'abc' is not a uuid: field id (string, uuid) at byte 9 of 9"),
        (one_field("xs", {"type": "array", "items": COLOUR}), b"\x04\x02\x06\x00",
         "enum symbol index 3 (the enum has 2 symbols): field xs[1] (enum Colour) at byte 7 of 9"),
        (one_field("m", {"type": "map", "values": "int"}), b"\x02\x02k",
         "truncated, the data ends inside a number: field m[0] (int) at byte 8 of 8"),
    ],
)  # fmt: skip
def test_each_kind_of_damage_is_named(schema: Any, body: bytes, expected: str) -> None:
    """Bad enum/union index, negative or overlong length, bad UTF-8, varint, logical value: said as such."""
    assert expected in message(schema, body)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=80))
def test_garbage_messages_are_never_empty(body: bytes) -> None:
    """Whatever the bytes, a corrupt-avro message ends with an explanation, not a bare exception name."""
    try:
        deserializer()(rec(b"\x00\x00\x00\x00\x03" + body))
    except DecodeError as exc:
        assert exc.reason == "corrupt-avro"
        explanation = exc.message.split("schema id 3: ", 1)[1]
        assert explanation.strip() and not explanation.rstrip().endswith(":"), exc.message
        assert "EOFError" not in explanation


def test_plain_avro_names_the_field() -> None:
    """avro-plain (local schema) messages name the schema file and the field."""
    import fastavro

    plain = PlainAvroDeserializer(fastavro.parse_schema(one_field("name", "string")), "one.avsc (One)")
    with pytest.raises(DecodeError) as info:
        plain(rec(b"\x06ab"))
    assert info.value.message == (
        "record value is not valid Avro for one.avsc (One): "
        "truncated, length 3 but 2 byte(s) left: field name (string) at byte 0 of 3"
    )
