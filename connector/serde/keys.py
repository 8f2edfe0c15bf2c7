"""Record keys: `key_format` string | json | avro | none.

String and JSON keys are cheap and decoded lazily by the mapping (only when an expression reads
`key`) with `key_decoder`. Avro keys need the schema registry, whose outages must surface in the
decode stage as RetriableError, so they are decoded eagerly: `WithAvroKey` wraps the value
deserializer and returns `WithKey(value, key)`, which the worker unpacks for the mapper.

A null key is None in every format; a key that cannot be decoded is DecodeError "invalid-key".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from connector.errors import DecodeError
from connector.interfaces import Deserializer
from connector.records import SourceRecord
from connector.serde.avro import decode_framed
from connector.serde.registry import SchemaLookup

KEY_FORMATS = ("string", "json", "avro", "none")
KeyDecoder = Callable[[bytes | None], Any]


@dataclass(frozen=True, slots=True)
class WithKey:
    """A decoded value with its eagerly decoded key (only for `key_format: avro`)."""

    value: Any
    key: Any


def decode_string_key(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("invalid-key", f"record key is not valid UTF-8: {exc}") from None


def decode_json_key(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid-key", f"record key is not valid JSON: {exc}") from None


def decode_no_key(data: bytes | None) -> None:
    return None


def decode_avro_key(data: bytes | None, lookup: SchemaLookup) -> Any:
    """A Confluent-framed Avro key; RetriableError (registry down) passes through."""
    if not data:
        return None
    try:
        return decode_framed(data, lookup, "key")
    except DecodeError as exc:
        raise DecodeError("invalid-key", f"{exc.message} [{exc.reason}]") from None


def key_decoder(key_format: str, lookup: SchemaLookup | None = None) -> KeyDecoder:
    """The decoder for `key_format`; avro needs the registry lookup."""
    if key_format == "string":
        return decode_string_key
    if key_format == "json":
        return decode_json_key
    if key_format == "none":
        return decode_no_key
    if key_format == "avro":
        if lookup is None:
            raise ValueError("key_format avro needs a schema registry")
        found = lookup
        return lambda data: decode_avro_key(data, found)
    raise ValueError(f"unknown key_format {key_format!r} (expected one of {', '.join(KEY_FORMATS)})")


class WithAvroKey:
    """Decodes the value with `inner` and the key as framed Avro; returns WithKey(value, key)."""

    __slots__ = ("_inner", "_lookup")

    def __init__(self, inner: Deserializer, lookup: SchemaLookup) -> None:
        self._inner = inner
        self._lookup = lookup

    def __call__(self, record: SourceRecord) -> WithKey:
        value = self._inner(record)
        return WithKey(value, decode_avro_key(record.key, self._lookup))
