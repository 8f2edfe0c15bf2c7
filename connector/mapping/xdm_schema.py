"""Optional validation of a mapped xdmEntity against an exported XDM schema.

The schema is what the Schema Registry returns with `Accept: application/vnd.adobe.xed-full+json;
version=1`: JSON Schema with every field group resolved into nested `properties`. Checked here:
type, format (date-time, date, uri-reference, email), enum, required, pattern, minimum/maximum,
minLength/maxLength, nested objects and arrays, and DCS's rule that a key absent from an object's
`properties` is not permitted unless `additionalProperties` allows it (identityMap's map of
namespaces). `meta:*` keys are annotations and are ignored. This is the pre-flight check for
`preview` and `check`; AEP's own validation stays authoritative.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.quoting import quote, shorten

_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_FORMATS = {
    "date-time": lambda s: bool(_DATE_TIME.match(s)),
    "date": lambda s: bool(_DATE.match(s)),
    "uri-reference": lambda s: not any(ch.isspace() for ch in s),
    "email": lambda s: "@" in s and not any(ch.isspace() for ch in s),
}
_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}
MAX_VIOLATIONS = 100


@dataclass(frozen=True, slots=True)
class Violation:
    pointer: str  # JSON pointer into the entity, "" for the root
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null" if v is None else type(v).__name__


class _Validator:
    def __init__(self) -> None:
        self.out: list[Violation] = []

    def add(self, pointer: str, message: str) -> None:
        if len(self.out) < MAX_VIOLATIONS:
            self.out.append(Violation(pointer, message))

    def check(self, value: Any, schema: Mapping[str, Any], pointer: str) -> None:
        if not isinstance(schema, Mapping) or not self.type_ok(value, schema, pointer):
            return
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(repr(x) for x in schema["enum"][:10])
            self.add(pointer, f"value {quote(value)} is not one of {allowed}")
        if isinstance(value, str):
            self.string(value, schema, pointer)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.number(value, schema, pointer)
        elif isinstance(value, dict):
            self.obj(value, schema, pointer)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, Mapping):
                for i, item in enumerate(value):
                    self.check(item, items, f"{pointer}/{i}")

    def type_ok(self, value: Any, schema: Mapping[str, Any], pointer: str) -> bool:
        declared = schema.get("type")
        if declared is None:
            return True
        names = declared if isinstance(declared, list) else [declared]
        if any(_TYPES.get(n, lambda v: True)(value) for n in names):
            return True
        self.add(pointer, f"expected type {' or '.join(map(str, names))}, found {_type_name(value)}")
        return False

    def string(self, value: str, schema: Mapping[str, Any], pointer: str) -> None:
        fmt = schema.get("format")
        check = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if check is not None and not check(value):
            self.add(pointer, f"{quote(value)} is not a valid {fmt}")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if not re.search(pattern, value):
                    self.add(pointer, f"{quote(value)} does not match pattern {pattern!r}")
            except re.error:
                pass
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            self.add(pointer, f"shorter than minLength {schema['minLength']}")
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            self.add(pointer, f"longer than maxLength {schema['maxLength']}")

    def number(self, value: float, schema: Mapping[str, Any], pointer: str) -> None:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if isinstance(lo, int | float) and value < lo:
            self.add(pointer, f"{value} is below minimum {lo}")
        if isinstance(hi, int | float) and value > hi:
            self.add(pointer, f"{value} is above maximum {hi}")

    def obj(self, value: dict[str, Any], schema: Mapping[str, Any], pointer: str) -> None:
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        extra = schema.get("additionalProperties", not props)
        for name in schema.get("required", []) or []:
            if name not in value:
                self.add(f"{pointer}/{_escape(str(name))}", "required field is missing")
        for key, item in value.items():
            where = f"{pointer}/{_escape(key)}"
            if key in props:
                self.check(item, props[key], where)
            elif isinstance(extra, Mapping):
                self.check(item, extra, where)
            elif extra is not True:
                self.add(where, f"extraneous key [{shorten(key)}] is not permitted")


def validate_entity(entity: Mapping[str, Any], schema_json: Mapping[str, Any]) -> list[Violation]:
    """Every violation of `entity` against the exported schema (at most MAX_VIOLATIONS)."""
    v = _Validator()
    v.check(dict(entity), schema_json, "")
    return v.out
