"""Record keys: string, json, none (decoded lazily by the mapping) and framed Avro (eagerly, WithKey)."""

from __future__ import annotations

import pytest
import requests

from connector.errors import DecodeError, RetriableError
from connector.records import SourceRecord
from connector.serde.json import JsonDeserializer
from connector.serde.keys import WithAvroKey, WithKey, key_decoder
from tests.unit.serde.fakes import FakeRegistry, client_for, framed

KEY_SCHEMA = {"type": "record", "name": "Key", "fields": [{"name": "member", "type": "string"}]}


def rec(key: bytes | None, value: bytes | None = b'{"a": 1}') -> SourceRecord:
    return SourceRecord("t", 0, 1, key, value)


def test_string_keys() -> None:
    """UTF-8 text; null stays None; invalid UTF-8 is invalid-key."""
    decode = key_decoder("string")
    assert decode("mé".encode()) == "mé"
    assert decode(None) is None
    with pytest.raises(DecodeError) as info:
        decode(b"\xff\xfe")
    assert info.value.reason == "invalid-key"


def test_json_keys() -> None:
    """JSON text; null or empty is None; malformed is invalid-key."""
    decode = key_decoder("json")
    assert decode(b'{"id": 7}') == {"id": 7}
    assert decode(None) is None
    assert decode(b"") is None
    with pytest.raises(DecodeError) as info:
        decode(b"{")
    assert info.value.reason == "invalid-key"


def test_none_ignores_the_key() -> None:
    """key_format none never reads the bytes."""
    assert key_decoder("none")(b"\xff") is None


def test_unknown_key_format() -> None:
    """An unknown format or avro without a registry is a ValueError at build time."""
    with pytest.raises(ValueError, match="unknown key_format"):
        key_decoder("xml")
    with pytest.raises(ValueError, match="registry"):
        key_decoder("avro")


def test_avro_keys_come_with_the_value() -> None:
    """key_format avro: the deserializer returns WithKey(value, decoded key)."""
    fake = FakeRegistry()
    fake.add(11, KEY_SCHEMA)
    d = WithAvroKey(JsonDeserializer(), client_for(fake).writer_schema)
    out = d(rec(framed(11, KEY_SCHEMA, {"member": "m-1"})))
    assert out == WithKey({"a": 1}, {"member": "m-1"})
    assert d(rec(None)) == WithKey({"a": 1}, None)
    assert key_decoder("avro", client_for(fake).writer_schema)(framed(11, KEY_SCHEMA, {"member": "x"})) == {
        "member": "x"
    }


def test_bad_avro_keys_are_invalid_key() -> None:
    """Unframed, unknown-id and corrupt keys are invalid-key naming the cause."""
    fake = FakeRegistry()
    fake.add(11, KEY_SCHEMA)
    d = WithAvroKey(JsonDeserializer(), client_for(fake).writer_schema)
    for key, cause in [(b"plain", "not-avro-framed"), (framed(12, KEY_SCHEMA, {"member": "m"}), "unknown-schema-id"),
                       (framed(11, KEY_SCHEMA, {"member": "m"})[:-1], "corrupt-avro")]:
        with pytest.raises(DecodeError) as info:
            d(rec(key))
        assert info.value.reason == "invalid-key"
        assert cause in info.value.message


def test_value_errors_win_over_key_errors() -> None:
    """The value is decoded first, so a tombstone reports tombstone."""
    d = WithAvroKey(JsonDeserializer(), client_for(FakeRegistry()).writer_schema)
    with pytest.raises(DecodeError) as info:
        d(rec(b"junk", None))
    assert info.value.reason == "tombstone"


def test_avro_key_registry_outage_is_retriable() -> None:
    """An uncached key schema with the registry down: RetriableError, not a dead-letter."""
    fake = FakeRegistry(fault=lambda _r: requests.ConnectionError("down"))
    d = WithAvroKey(JsonDeserializer(), client_for(fake).writer_schema)
    with pytest.raises(RetriableError):
        d(rec(framed(11, KEY_SCHEMA, {"member": "m"})))
