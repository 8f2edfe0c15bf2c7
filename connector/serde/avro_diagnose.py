"""Why Avro bytes do not decode: the field, the byte position and the problem, for dead-letter messages.

fastavro's errors name neither the field nor the cause (a truncated record is `EOFError: `).
`explain` walks the same bytes with the writer schema and reports the first problem:

    truncated            the data ends inside a field ("truncated, the data ends inside a number:
                         field amount (long) at byte 14 of 14")
    length too large     a string/bytes length beyond the end of the data
    negative length      a string/bytes length below 0
    bad varint           an int/long of more than 10 bytes
    union/enum index     a branch or symbol index outside the schema
    not UTF-8            a string that is not UTF-8
    out of range         a timestamp/date logical value no calendar holds, or a malformed uuid

It runs only after fastavro failed (never on the hot path), and a step budget bounds it on
hostile data (a huge count of zero-byte items).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

_FIXED_SIZE = {"float": 4, "double": 8}
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_UNITS = {"timestamp-millis": 1000, "timestamp-micros": 1, "local-timestamp-millis": 1000}
_TIME_UNITS |= {"local-timestamp-micros": 1}


class _Bad(Exception):
    pass


class _Walker:
    def __init__(self, data: bytes, offset: int, named: Mapping[str, Any]) -> None:
        self.data = data
        self.pos = offset
        self.named = named
        self.budget = 64 * len(data) + 1024

    def fail(self, path: str, kind: str, problem: str) -> _Bad:
        where = f"field {path} ({kind})" if path else f"the record ({kind})"
        return _Bad(f"{problem}: {where} at byte {self.pos} of {len(self.data)}")

    def take(self, n: int, path: str, kind: str) -> bytes:
        if self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            raise self.fail(path, kind, f"truncated, {n} byte(s) needed and {left} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def varint(self, path: str, kind: str) -> int:
        start, shift, result = self.pos, 0, 0
        for _ in range(10):
            if self.pos >= len(self.data):
                raise self.fail(path, kind, "truncated, the data ends inside a number")
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return (result >> 1) ^ -(result & 1)
            shift += 7
        self.pos = start
        raise self.fail(path, kind, "bad number, a varint of more than 10 bytes")

    def length(self, path: str, kind: str) -> int:
        start = self.pos
        n = self.varint(path, kind)
        if n < 0:
            self.pos = start
            raise self.fail(path, kind, f"negative length {n}")
        if self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            self.pos = start
            raise self.fail(path, kind, f"truncated, length {n} but {left} byte(s) left")
        return n

    def read(self, schema: Any, path: str) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(path, "array/map", "the data declares more items than it can hold")
        if isinstance(schema, list):
            return self.union(schema, path)
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return self.primitive(schema, path, None)
            return self.read(self.named[schema], path)
        kind = schema["type"]
        if kind in _PRIMITIVES:
            return self.primitive(kind, path, schema.get("logicalType"))
        if kind in ("record", "error"):
            for f in schema["fields"]:
                self.read(f["type"], f"{path}.{f['name']}" if path else f["name"])
            return None
        if kind == "enum":
            shown, symbols, start = f"enum {schema['name']}", len(schema["symbols"]), self.pos
            index = self.varint(path, shown)
            if not 0 <= index < symbols:
                self.pos = start
                raise self.fail(path, shown, f"enum symbol index {index} (the enum has {symbols} symbols)")
            return None
        if kind == "fixed":
            self.take(int(schema["size"]), path, f"fixed {schema['size']}")
            return None
        if kind in ("array", "map"):
            return self.blocks(schema, path, kind)
        return self.read(kind, path)  # {"type": "some.Named"}

    def union(self, branches: list[Any], path: str) -> Any:
        start = self.pos
        index = self.varint(path, "union")
        if not 0 <= index < len(branches):
            self.pos = start
            raise self.fail(path, "union", f"union branch index {index} (the union has {len(branches)} branches)")
        return self.read(branches[index], path)

    def blocks(self, schema: Mapping[str, Any], path: str, kind: str) -> None:
        i = 0
        while True:
            count = self.varint(path, kind)
            if count == 0:
                return
            if count < 0:
                count = -count
                self.varint(path, kind)  # the block's size in bytes
            for _ in range(count):
                if kind == "map":
                    self.take(self.length(f"{path}[{i}]", "map key"), f"{path}[{i}]", "map key")
                self.read(schema["items" if kind == "array" else "values"], f"{path}[{i}]")
                i += 1

    def primitive(self, kind: str, path: str, logical: str | None) -> Any:
        shown = f"{kind}, {logical}" if logical else kind
        if kind == "null":
            return None
        if kind == "boolean":
            return self.take(1, path, shown)
        if kind in ("int", "long"):
            n = self.varint(path, shown)
            if logical:
                self.check_logical(n, logical, path, shown)
            return n
        if kind in _FIXED_SIZE:
            return self.take(_FIXED_SIZE[kind], path, shown)
        raw = self.take(self.length(path, shown), path, shown)
        if kind == "string":
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.pos -= len(raw)
                raise self.fail(path, shown, f"not UTF-8 ({exc.reason} at byte {exc.start} of the string)") from None
            if logical == "uuid":
                try:
                    uuid.UUID(text)
                except ValueError:
                    raise self.fail(path, shown, f"{text[:40]!r} is not a uuid") from None
        return None

    def check_logical(self, n: int, logical: str, path: str, shown: str) -> None:
        try:
            if logical in _TIME_UNITS:
                _EPOCH + timedelta(microseconds=n * _TIME_UNITS[logical])
            elif logical == "date":
                _EPOCH + timedelta(days=n)
        except OverflowError:
            raise self.fail(path, shown, f"value {n} is out of range for a calendar date") from None


def _named_types(schema: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, out)
    elif isinstance(schema, dict):
        out.update(schema.get("__named_schemas") or {})
        if schema.get("type") in ("record", "error", "enum", "fixed") and "name" in schema:
            out.setdefault(schema["name"], schema)
        for f in schema.get("fields", ()):
            _named_types(f["type"], out)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], out)
    return out


def explain(data: bytes, offset: int, schema: Any) -> str | None:
    """The first problem reading `data[offset:]` with `schema` (a fastavro parsed schema), or None."""
    walker = _Walker(data, offset, _named_types(schema, {}))
    try:
        walker.read(schema, "")
    except _Bad as exc:
        return str(exc)
    except (KeyError, TypeError, RecursionError):  # a schema shape this walker does not know
        return None
    return None
