"""The emulator's XDM validator: the walker over a resolved schema, formats and violation texts.

The walker is JSON-schema-ish: type, format, enum, range, length, pattern, required, closed
objects (XDM rejects unknown keys) and maps (`additionalProperties` schema). Violations use the
shape and texts of Adobe's streaming validation (everit JSON schema). Schemas come resolved
(xed-full) from `connector.emulator.resolve`; this is the validator that decides failed records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connector.emulator.xdmlib import EVENT_CLASS, PROFILE_CLASS

Schema = dict[str, Any]
Violation = dict[str, Any]

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$")
DATE_TIME_EXPECTED = (
    "Expected [yyyy-MM-dd'T'HH:mm:ssZ, yyyy-MM-dd'T'HH:mm:ss.[0-9]{1-9}Z, yyyy-MM-dd'T'HH:mm:ss[+-]HH:mm, "
    "yyyy-MM-dd'T'HH:mm:ss.[0-9]{1,9}[+-]HH:mm]"
)


def parse_date_time_ms(value: str) -> int | None:
    """Epoch ms of an RFC 3339 date-time in one of the patterns AEP accepts, else None."""
    if not _DATE_TIME.match(value):
        return None
    text = value.replace("z", "Z").replace("Z", "+00:00")
    main, dot, rest = text.partition(".")
    if dot:
        digits = rest[: len(rest) - 6]
        text = f"{main}.{(digits + '000000')[:6]}{rest[-6:]}"
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return None


def _valid_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def format_error(fmt: str, value: str) -> str | None:
    """The validator message when `value` breaks `fmt`, else None."""
    if fmt == "date-time" and parse_date_time_ms(value) is None:
        return f"[{value}] is not a valid date-time. {DATE_TIME_EXPECTED}"
    if fmt == "date" and not _valid_date(value):
        return f"[{value}] is not a valid date. Expected [yyyy-MM-dd]"
    if fmt == "email" and not _EMAIL.match(value):
        return f"[{value}] is not a valid email address"
    if fmt == "uri" and not _URI.match(value):
        return f"[{value}] is not a valid URI"
    if fmt == "uri-reference" and any(c.isspace() for c in value):
        return f"[{value}] is not a valid URI reference"
    return None


def type_name(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Long" if abs(value) > 2**31 - 1 else "Integer"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, Decimal):
        return "BigDecimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    return "JSONObject"


_TYPE_OK = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float | Decimal) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def violation(schema_loc: str, pointer: str, keyword: str, message: str) -> Violation:
    return {
        "schemaLocation": schema_loc or "#",
        "pointerToViolation": pointer or "#",
        "causingExceptions": [],
        "keyword": keyword,
        "message": message,
    }


@dataclass(frozen=True, slots=True)
class IdentityField:
    path: tuple[str, ...]
    namespace: str
    primary: bool


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """A tenant schema flattened for validation."""

    id: str
    klass: str | None
    root: Schema
    open_root: bool
    identities: tuple[IdentityField, ...] = ()

    @property
    def is_event(self) -> bool:
        return self.klass == EVENT_CLASS

    @property
    def is_profile(self) -> bool:
        return self.klass == PROFILE_CLASS


class Walker:
    """Collects up to `limit` violations of `value` against a compiled schema."""

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit
        self.found: list[Violation] = []

    def full(self) -> bool:
        return len(self.found) >= self.limit

    def add(self, v: Violation) -> None:
        if not self.full():
            self.found.append(v)

    def walk(self, schema: Schema, value: Any, loc: str, ptr: str, open_obj: bool = False) -> None:
        if self.full():
            return
        expected = schema.get("type")
        if isinstance(expected, str) and expected in _TYPE_OK and not _TYPE_OK[expected](value):
            want = (
                "Long"
                if expected == "integer"
                else {
                    "string": "String",
                    "number": "Number",
                    "boolean": "Boolean",
                    "object": "JSONObject",
                    "array": "JSONArray",
                }[expected]
            )
            self.add(violation(loc, ptr, "type", f"expected type: {want}, found: {type_name(value)}"))
            return
        if "enum" in schema and value not in schema["enum"]:
            self.add(violation(loc, ptr, "enum", f"{value} is not a valid enum value"))
        if isinstance(value, str):
            self._string(schema, value, loc, ptr)
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            self._number(schema, value, loc, ptr)
        elif isinstance(value, dict):
            self._object(schema, value, loc, ptr, open_obj)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                self.walk(schema["items"], item, f"{loc}/items", f"{ptr}/{i}")

    def _string(self, schema: Schema, value: str, loc: str, ptr: str) -> None:
        fmt = schema.get("format")
        if isinstance(fmt, str):
            msg = format_error(fmt, value)
            if msg:
                self.add(violation(loc, ptr, "format", msg))
        if "pattern" in schema and not re.search(str(schema["pattern"]), value):
            self.add(violation(loc, ptr, "pattern", f"string [{value}] does not match pattern {schema['pattern']}"))
        if "minLength" in schema and len(value) < int(schema["minLength"]):
            self.add(
                violation(loc, ptr, "minLength", f"expected minLength: {schema['minLength']}, actual: {len(value)}")
            )
        if "maxLength" in schema and len(value) > int(schema["maxLength"]):
            self.add(
                violation(loc, ptr, "maxLength", f"expected maxLength: {schema['maxLength']}, actual: {len(value)}")
            )

    def _number(self, schema: Schema, value: float | Decimal, loc: str, ptr: str) -> None:
        if "minimum" in schema and value < schema["minimum"]:
            self.add(violation(loc, ptr, "minimum", f"{value} is not greater or equal to {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            self.add(violation(loc, ptr, "maximum", f"{value} is not less or equal to {schema['maximum']}"))

    def _object(self, schema: Schema, value: dict[str, Any], loc: str, ptr: str, open_obj: bool) -> None:
        props: dict[str, Schema] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                self.add(violation(loc, ptr, "required", f"required key [{key}] not found"))
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                self.walk(props[key], sub, f"{loc}/properties/{key}", f"{ptr}/{key}")
            elif isinstance(extra, dict):
                self.walk(extra, sub, f"{loc}/additionalProperties", f"{ptr}/{key}")
            elif props and not open_obj and extra is not True:
                self.add(violation(loc, ptr, "additionalProperties", f"extraneous key [{key}] is not permitted"))


def validate_entity(schema: CompiledSchema, entity: Mapping[str, Any], limit: int = 5) -> list[Violation]:
    """Type/format/unknown-field/required violations of `entity`, plus a missing primary identity field."""
    walker = Walker(limit)
    walker.walk(schema.root, dict(entity), "#", "#", open_obj=schema.open_root)
    for ident in schema.identities:
        if ident.primary and lookup(entity, ident.path) is None:
            loc = "#" + "".join(f"/properties/{p}" for p in ident.path[:-1])
            ptr = "#" + "".join(f"/{p}" for p in ident.path[:-1])
            walker.add(violation(loc, ptr, "required", f"required key [{ident.path[-1]}] not found"))
    return walker.found


def lookup(entity: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = entity
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
