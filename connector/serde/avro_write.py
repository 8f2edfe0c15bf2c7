"""Encode JSON-shaped values as Avro (plain, or Confluent-framed): what `aep-connector produce` writes.

JSON has no timestamps, dates, decimals or bytes, so values are converted by the writer schema
first: an RFC 3339 string for timestamp-*/local-timestamp-* (an integer is taken as already in
the unit), ISO dates and times, decimals from strings or numbers, bytes/fixed from strings
(each character one byte, as in Avro's JSON encoding). Unions take the first branch the value
is valid for. Anything else fastavro validates, and the error names the field.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import fastavro
import orjson
from fastavro.validation import ValidationError, validate

from connector.quoting import quote
from connector.serde.avro import MAGIC

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_TIMESTAMPS = frozenset(
    {"timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"}
)


class AvroEncodeError(ValueError):
    """A value that the writer schema cannot encode; the message names the field."""


def _fullname(schema: dict[str, Any], namespace: str | None) -> tuple[str, str | None]:
    name = str(schema["name"])
    ns = schema.get("namespace", namespace)
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    return (f"{ns}.{name}" if ns else name), ns


class _Converter:
    """Walks the raw (unparsed) schema next to the value, resolving named types as it meets them."""

    def __init__(self, schema: Any) -> None:
        self.names: dict[str, Any] = {}
        self._collect(schema, None)
        self.schema = schema
        self._named: dict[str, Any] | None = None
        self._branches: dict[bytes, Any] = {}

    def _collect(self, schema: Any, namespace: str | None) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self._collect(branch, namespace)
        elif isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error", "enum", "fixed") and "name" in schema:
                full, namespace = _fullname(schema, namespace)
                self.names[full] = schema
                self.names.setdefault(str(schema["name"]).rsplit(".", 1)[-1], schema)
            for field in schema.get("fields", ()) if kind in ("record", "error") else ():
                self._collect(field.get("type"), namespace)
            if kind == "array":
                self._collect(schema.get("items"), namespace)
            if kind == "map":
                self._collect(schema.get("values"), namespace)
            if isinstance(kind, dict | list):
                self._collect(kind, namespace)

    def convert(self, schema: Any, value: Any, where: str) -> Any:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _bytes(value, where) if schema == "bytes" else value
            schema = self.names.get(schema, schema)
            if isinstance(schema, str):
                return value
        if isinstance(schema, list):
            return self._union(schema, value, where)
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if logical is not None and value is not None:
            return _logical(logical, value, where)
        if isinstance(kind, dict | list):
            return self.convert(kind, value, where)
        if kind in ("record", "error") and isinstance(value, dict):
            out = dict(value)
            for field in schema.get("fields", ()):
                name = field["name"]
                if name in value:
                    out[name] = self.convert(field["type"], value[name], f"{where}.{name}" if where else name)
            return out
        if kind == "array" and isinstance(value, list):
            return [self.convert(schema["items"], v, f"{where}[{i}]") for i, v in enumerate(value)]
        if kind == "map" and isinstance(value, dict):
            return {k: self.convert(schema["values"], v, f"{where}.{k}") for k, v in value.items()}
        if kind in ("bytes", "fixed"):
            return _bytes(value, where)
        return value

    def _union(self, branches: list[Any], value: Any, where: str) -> Any:
        if value is None:
            return None
        for branch in branches:
            if branch == "null":
                continue
            try:
                converted = self.convert(branch, value, where)
            except AvroEncodeError:
                continue
            if validate(converted, self._parsed_branch(branch), raise_errors=False):
                return converted
        return value

    def _parsed_branch(self, branch: Any) -> Any:
        key = orjson.dumps(branch)
        parsed = self._branches.get(key)
        if parsed is None:
            if self._named is None:
                self._named = {}
                fastavro.parse_schema(self.schema, named_schemas=self._named)
            resolved = self.names.get(branch, branch) if isinstance(branch, str) else branch
            parsed = self._branches[key] = fastavro.parse_schema(resolved, named_schemas=dict(self._named))
        return parsed


def _bytes(value: Any, where: str) -> Any:
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise AvroEncodeError(f"{where}: bytes given as a string must use characters U+0000..U+00FF") from None
    return value


def _logical(logical: str, value: Any, where: str) -> Any:
    if not isinstance(value, str) and logical != "decimal":
        return value
    try:
        if logical in _TIMESTAMPS:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            if logical.startswith("timestamp") and parsed.tzinfo is None:
                raise AvroEncodeError(f"{where}: timestamp {quote(value)} has no UTC offset (add Z or +hh:mm)")
            return parsed
        if logical == "date":
            return date.fromisoformat(value)
        if logical in ("time-millis", "time-micros"):
            return time.fromisoformat(value)
        if logical == "decimal" and isinstance(value, str | int | float) and not isinstance(value, bool):
            return Decimal(str(value))
    except AvroEncodeError:
        raise
    except (ValueError, InvalidOperation) as exc:
        raise AvroEncodeError(f"{where}: {quote(value)} is not a valid {logical}: {exc}") from None
    return value


class AvroEncoder:
    """Plain Avro bodies (format avro-plain), or Confluent-framed ones when `schema_id` is given."""

    def __init__(
        self, schema_text: str | bytes, schema_id: int | None = None, origin: str = "the writer schema"
    ) -> None:
        try:
            raw = orjson.loads(schema_text)
            self._parsed = fastavro.parse_schema(raw)
        except Exception as exc:  # JSON errors and fastavro's many schema errors
            raise AvroEncodeError(f"{origin} is not a valid Avro schema: {type(exc).__name__}: {exc}") from None
        self._converter = _Converter(raw)
        self._raw = raw
        self._prefix = b"" if schema_id is None else bytes([MAGIC]) + schema_id.to_bytes(4, "big")
        self.origin = origin
        self.schema_id = schema_id

    def __call__(self, value: Any) -> bytes:
        datum = self._converter.convert(self._raw, value, "")
        try:
            validate(datum, self._parsed, raise_errors=True)
        except ValidationError as exc:
            problems = "; ".join(str(e) for e in exc.errors)[:500]
            raise AvroEncodeError(f"not valid for {self.origin}: {problems}") from None
        buf = io.BytesIO()
        buf.write(self._prefix)
        fastavro.schemaless_writer(buf, self._parsed, datum)
        return buf.getvalue()
