"""Avro record values: Confluent-framed (schema registry) and plain (a local .avsc writer schema).

Records are read with their *writer* schema only (no reader schema): mappings refer to fields by
name, so a field missing from an older writer version is simply absent from the decoded dict.
Logical types arrive as Python values (datetime, date, time, Decimal, UUID); unions as the bare
value or None; enums as str; bytes/fixed as bytes.

Failure reasons, each a DecodeError (dead-letter) with the original bytes kept by the worker:
  tombstone          the value is null
  empty-value        the value has 0 bytes
  not-avro-framed    no magic byte 0, or shorter than the 5-byte header
  unknown-schema-id  the registry has no schema with the framed id (HTTP 404)
  corrupt-avro       truncated, garbage, or trailing bytes after one record; the message names
                     the field, the byte position and the problem (`avro_diagnose`)
A registry that cannot be reached raises RetriableError (never dead-lettered).
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import orjson
from fastavro.read import LOGICAL_READERS
from fastavro.schema import SchemaParseException, UnknownType

from connector.errors import DecodeError
from connector.records import SourceRecord
from connector.serde.avro_compile import CompiledReader, compile_reader
from connector.serde.avro_diagnose import explain
from connector.serde.registry import ParsedSchema, SchemaLookup


def exact_decimal(data: Any, writer_schema: dict[Any, Any] | None, _reader_schema: dict[Any, Any] | None = None) -> Any:
    """An Avro decimal (big-endian two's-complement unscaled integer, `scale` from the schema), digit for digit.

    fastavro's own reader scales through a decimal context of the declared `precision`, so a value
    with more digits than that arrived rounded (1234.56 in a decimal(4,2) as 1235). The bytes hold
    the exact value, and values arrive exactly as they were: no context, no rounding.
    """
    sign, digits, _ = Decimal(int.from_bytes(data, "big", signed=True)).as_tuple()
    return Decimal((sign, digits, -int((writer_schema or {}).get("scale", 0))))


# fastavro's documented hook for logical types; the compiled reader looks them up here too.
LOGICAL_READERS["bytes-decimal"] = exact_decimal
LOGICAL_READERS["fixed-decimal"] = exact_decimal

MAGIC = 0
HEADER_SIZE = 5
_reader = fastavro.schemaless_reader
_compiled: dict[int, tuple[ParsedSchema, CompiledReader | None]] = {}
"""id(schema) -> (schema, its compiled reader); the schema is kept so that its id is never reused."""


def compiled_reader(schema: ParsedSchema) -> CompiledReader | None:
    """The reader compiled for `schema` (once per schema object), None if fastavro must read it."""
    found = _compiled.get(id(schema))
    if found is None:
        found = _compiled[id(schema)] = (schema, compile_reader(schema))
    return found[1]


def read_exact(data: bytes, offset: int, schema: ParsedSchema, what: str, source: int | str) -> Any:
    """Decode one Avro datum from `data[offset:]`; every byte must belong to it.

    `source` names the writer schema in messages: a registry schema id or a description.
    The compiled reader decodes it when it can; whatever it does not accept (a bad record, or
    one it is unsure of) is read again by fastavro, whose value or error is then the answer.
    """
    fast = compiled_reader(schema)
    if fast is not None and type(data) is bytes:
        try:
            return fast(data, offset)
        except Exception:  # noqa: S110 - any doubt: fastavro decides, with its precise reason
            pass
    return read_slow(data, offset, schema, what, source)


def read_slow(data: bytes, offset: int, schema: ParsedSchema, what: str, source: int | str) -> Any:
    """`read_exact` with fastavro only: the reference the compiled reader must agree with."""
    fo = BytesIO(data)
    if offset:
        fo.seek(offset)
    try:
        value = _reader(fo, schema, None, False)
    except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, OverflowError, ...
        why = explain(data, offset, schema) or _fastavro_error(exc)
        raise DecodeError("corrupt-avro", f"record {what} is not valid Avro for {_describe(source)}: {why}") from None
    end = fo.tell()
    if end != len(data):
        raise DecodeError(
            "corrupt-avro",
            f"record {what} has {len(data) - end} trailing bytes after the Avro datum for {_describe(source)}",
        )
    return value


def _fastavro_error(exc: Exception) -> str:
    """fastavro's own words when the walk found nothing, never an empty `EOFError: `."""
    text = str(exc).strip()
    if isinstance(exc, EOFError):
        return "truncated: the data ends before the record does"
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} while reading"


def _describe(source: int | str) -> str:
    return f"schema id {source}" if isinstance(source, int) else source


def _check_present(data: bytes | None, what: str) -> bytes:
    if data is None:
        raise DecodeError("tombstone", f"record {what} is null (tombstone); there is nothing to send")
    if not data:
        raise DecodeError("empty-value", f"record {what} is empty (0 bytes)")
    return data


def decode_framed(data: bytes | None, lookup: SchemaLookup, what: str = "value") -> Any:
    """Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary."""
    data = _check_present(data, what)
    if len(data) < HEADER_SIZE or data[0] != MAGIC:
        raise DecodeError(
            "not-avro-framed",
            f"record {what} is not in the Confluent Avro wire format (magic byte 0 + 4-byte schema id); "
            f"it starts with {data[:HEADER_SIZE].hex()} ({len(data)} bytes)",
        )
    schema_id = int.from_bytes(data[1:HEADER_SIZE], "big")
    schema = lookup(schema_id)
    return read_exact(data, HEADER_SIZE, schema, what, schema_id)


class AvroDeserializer:
    """Confluent-framed Avro values, writer schemas from a schema registry (cached per id).

    The hot path looks the 5-byte header (magic byte + schema id) up in a dict of compiled
    readers; anything else (first record of a schema id, a bad header, a record the compiled
    reader does not accept) takes the checked path, which gives the precise reason.
    """

    __slots__ = ("_lookup", "_readers", "_schemas")

    def __init__(self, lookup: SchemaLookup) -> None:
        self._lookup = lookup
        self._schemas: dict[int, ParsedSchema] = {}
        self._readers: dict[bytes, CompiledReader] = {}

    def __call__(self, record: SourceRecord) -> Any:
        data = record.value
        if type(data) is bytes:
            fast = self._readers.get(data[:HEADER_SIZE])
            if fast is not None:
                try:
                    return fast(data, HEADER_SIZE)
                except Exception:  # noqa: S110 - any doubt: the checked path decides (fastavro, its reason)
                    pass
        return self._checked(data)

    def _checked(self, data: bytes | None) -> Any:
        if not data or len(data) < HEADER_SIZE or data[0] != MAGIC:
            return decode_framed(data, self._lookup)  # raises the precise reason
        schema_id = int.from_bytes(data[1:HEADER_SIZE], "big")
        schema = self._schemas.get(schema_id)
        if schema is None:
            schema = self._schemas[schema_id] = self._lookup(schema_id)
            fast = compiled_reader(schema)
            if fast is not None:
                self._readers[data[:HEADER_SIZE]] = fast
        return read_exact(data, HEADER_SIZE, schema, "value", schema_id)


def load_schema_file(path: Path) -> ParsedSchema:
    """Parse an .avsc file; ValueError names the file and the problem."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read Avro schema {path}: {exc.strerror or exc}") from None
    try:
        return fastavro.parse_schema(orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"Avro schema {path} is not valid JSON: {exc}") from None
    except (SchemaParseException, UnknownType, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"Avro schema {path} is not a valid Avro schema: {type(exc).__name__}: {exc}") from None


def schema_name(schema: ParsedSchema) -> str:
    if isinstance(schema, dict):
        return str(schema.get("name") or schema.get("type"))
    return str(schema) if isinstance(schema, str) else "union"


class PlainAvroDeserializer:
    """Schemaless Avro values (no framing) written with one known writer schema."""

    __slots__ = ("_desc", "_schema")

    def __init__(self, schema: ParsedSchema, origin: str = "the local schema") -> None:
        self._schema = schema
        self._desc = origin

    @classmethod
    def from_file(cls, path: Path) -> PlainAvroDeserializer:
        schema = load_schema_file(path)
        return cls(schema, f"{path.name} ({schema_name(schema)})")

    def __call__(self, record: SourceRecord) -> Any:
        data = _check_present(record.value, "value")
        try:
            return read_exact(data, 0, self._schema, "value", self._desc)
        except DecodeError as exc:
            if len(data) >= HEADER_SIZE and data[0] == MAGIC:
                hint = f"; it looks Confluent-framed (schema id {int.from_bytes(data[1:5], 'big')}): use format: avro"
                raise DecodeError(exc.reason, exc.message + hint) from None
            raise
