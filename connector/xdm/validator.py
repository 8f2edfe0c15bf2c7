"""The compiled validator of one XDM schema, and violations worth a dead-letter message.

jsonschema-rs compiles the strict schema (prepare.py) once; `is_valid` is the per-record fast
path, and only an invalid entity pays for `violations`, which names each problem by JSON pointer
(RFC 6901), rule (the JSON Schema keyword) and a message that quotes values truncated, never
whole. Values are validated as they are: `decimal.Decimal` is a number (compared exactly, never
converted), a Python int of any size is an integer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonschema_rs
import orjson

from connector.xdm.prepare import DATE_TIME_EXPECTED, DATE_TIME_PATTERN, INTEGER_RANGES, Prepared

MAX_VIOLATIONS = 10
QUOTE_CHARS = 60


@dataclass(frozen=True, slots=True)
class Violation:
    pointer: str  # JSON pointer into the xdmEntity; "" is the entity itself
    keyword: str  # the rule: type, required, additionalProperties, format, enum, minimum, pattern, ...
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.keyword}: {self.message}"


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """A short rendering of `value` for messages: strings and numbers cut at `limit` characters."""
    if isinstance(value, str):
        text = orjson.dumps(value[:limit]).decode()
        return text if len(value) <= limit else f'{text[:-1]}..." ({len(value)} chars)'
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, int):
        if value.bit_length() > 200:
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
        text = str(value)
    elif isinstance(value, Decimal | float):
        text = str(value)
    elif isinstance(value, Mapping):
        return f"an object of {len(value)} field(s)"
    elif isinstance(value, list | tuple):
        return f"an array of {len(value)} item(s)"
    else:
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return "null" if value is None else type(value).__name__


def escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(parts: Sequence[str | int]) -> str:
    return "".join(f"/{escape(p)}" for p in parts)


class XdmValidator:
    """Validates xdmEntity dicts against one prepared schema; safe to share between threads."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self._validator = jsonschema_rs.validator_for(prepared.strict, validate_formats=True, offline=True)
        self._is_valid = self._validator.is_valid
        self.raw_is_valid = self._is_valid  # the hot path: raises ValueError for values with no JSON form

    @property
    def schema_id(self) -> str:
        return self.prepared.schema_id

    @property
    def version(self) -> str:
        return self.prepared.version

    def is_valid(self, entity: Any) -> bool:
        """The per-record fast path."""
        try:
            return self._is_valid(entity)
        except ValueError:  # a Python value with no JSON form (bytes, set, ...): explained by violations()
            return False

    def violations(self, entity: Any, limit: int = MAX_VIOLATIONS) -> list[Violation]:
        """Up to `limit` violations of `entity`, in document order; [] when it is valid."""
        try:
            errors = list(self._validator.iter_errors(entity))
        except ValueError as exc:
            return [Violation("", "type", f"the entity holds a value with no JSON form ({exc})")]
        out: list[Violation] = []
        for error in errors:
            for v in self._explain(error, entity):
                if len(out) < limit and v not in out:
                    out.append(v)
        return out

    def _explain(self, error: jsonschema_rs.ValidationError, entity: Any) -> list[Violation]:
        path = list(error.instance_path)
        where = pointer(path)
        schema_path = list(error.schema_path)
        keyword = str(schema_path[-1]) if schema_path else "schema"
        node = _node_at(self.prepared.strict, schema_path[:-1])
        value = _value_at(entity, path, error.instance)  # the record's own value, not the library's copy
        if keyword == "required":
            missing = getattr(error.kind, "property", None)
            return [Violation(f"{where}/{escape(str(missing))}", keyword, "required field is missing")]
        if keyword == "additionalProperties":
            keys = getattr(error.kind, "unexpected", None) or []
            return [Violation(f"{where}/{escape(k)}", keyword, self._unknown_key(path, str(k))) for k in keys]
        return [Violation(where, *_rule_message(keyword, node, value))]

    def _unknown_key(self, path: list[str | int], key: str) -> str:
        tenant = self.prepared.tenant_namespace
        if not path and key.startswith("_") and tenant and key != tenant:
            return f"field [{key}] is not in the schema (custom fields live under the tenant namespace {tenant})"
        return f"field [{key}] is not in the schema"


def _value_at(entity: Any, path: Sequence[str | int], default: Any) -> Any:
    node = entity
    for part in path:
        in_object = isinstance(node, Mapping) and part in node
        in_array = isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_object or in_array):
            return default
        node = node[part]
    return node


def _node_at(schema: Any, path: Sequence[str | int]) -> Mapping[str, Any]:
    node = schema
    for part in path:
        if isinstance(node, Mapping):
            node = node.get(str(part))
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return {}
    return node if isinstance(node, Mapping) else {}


def _rule_message(keyword: str, node: Mapping[str, Any], value: Any) -> tuple[str, str]:
    """(keyword, message) for a violated value rule."""
    shown = quote(value)
    if keyword == "type":
        want = node.get("type")
        names = " or ".join(want) if isinstance(want, list) else str(want)
        return keyword, f"expected {names}, found {json_type(value)} {shown}"
    if keyword == "pattern" and node.get("pattern") == DATE_TIME_PATTERN:
        return "format", f"{shown} is not a valid date-time. Expected [{DATE_TIME_EXPECTED}]"
    if keyword == "format" and node.get("format") == "date-time":
        return keyword, f"{shown} is not a valid date-time. Expected [{DATE_TIME_EXPECTED}]"
    if keyword == "format":
        return keyword, f"{shown} is not a valid {node.get('format')}"
    if keyword == "pattern":
        return keyword, f"{shown} does not match the pattern {quote(str(node.get('pattern')), 80)}"
    if keyword == "enum":
        enum = node.get("enum")
        allowed: list[Any] = enum if isinstance(enum, list) else []
        listed = ", ".join(quote(x, 30) for x in allowed[:10]) + (", ..." if len(allowed) > 10 else "")
        return keyword, f"{shown} is not one of [{listed}]"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return keyword, f"{shown} is {_bound_text(keyword)} {node.get(keyword)}{_xdm_type_note(node)}"
    if keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        size = len(value) if isinstance(value, str | list | tuple) else "?"
        return keyword, f"length {size} breaks {keyword} {node.get(keyword)} (value {shown})"
    return keyword, f"{shown} breaks the rule {keyword}: {quote(node.get(keyword), 80)}"


def _bound_text(keyword: str) -> str:
    return {
        "minimum": "below the minimum",
        "maximum": "above the maximum",
        "exclusiveMinimum": "not above",
        "exclusiveMaximum": "not below",
    }[keyword]


def _xdm_type_note(node: Mapping[str, Any]) -> str:
    xdm_type = node.get("meta:xdmType")
    return f" (XDM type {xdm_type})" if xdm_type in INTEGER_RANGES else ""
