"""XDM classes and standard field groups the emulator knows, schema compilation and the walker.

The walker is JSON-schema-ish: type, format, enum, range, length, pattern, required, closed
objects (XDM rejects unknown keys) and maps (`additionalProperties` schema). Violations use the
shape and texts of Adobe's streaming validation (everit JSON schema).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"
CLASS_ALT_IDS = {PROFILE_CLASS: "_xdm.context.profile", EVENT_CLASS: "_xdm.context.experienceevent"}

Schema = dict[str, Any]
Violation = dict[str, Any]

_S: Schema = {"type": "string"}
_B: Schema = {"type": "boolean"}
IDENTITY_ITEM: Schema = {
    "type": "object",
    "properties": {
        "id": _S,
        "authenticatedState": {"type": "string", "enum": ["ambiguous", "authenticated", "loggedOut"]},
        "primary": _B,
    },
    "required": ["id"],
}
IDENTITY_MAP: Schema = {
    "type": "object",
    "meta:xdmType": "map",
    "additionalProperties": {"type": "array", "items": IDENTITY_ITEM},
}
OPEN: Schema = {"type": "object"}
EMAIL: Schema = {
    "type": "object",
    "properties": {
        "address": {"type": "string", "format": "email"},
        "primary": _B,
        "type": _S,
        "status": _S,
        "statusReason": _S,
        "label": _S,
    },
}
PHONE: Schema = {
    "type": "object",
    "properties": {"number": _S, "primary": _B, "type": _S, "status": _S, "countryCode": _S},
}
ADDRESS: Schema = {
    "type": "object",
    "properties": dict.fromkeys(
        (
            "street1",
            "street2",
            "city",
            "postalCode",
            "country",
            "countryCode",
            "stateProvince",
            "region",
            "primary",
            "label",
            "type",
            "status",
        ),
        _S,
    )
    | {"primary": _B},
}
_REPO: Schema = {"type": "object"}

CLASSES: dict[str, Schema] = {
    PROFILE_CLASS: {
        "type": "object",
        "properties": {
            "_id": {"type": "string"},
            "identityMap": IDENTITY_MAP,
            "_repo": _REPO,
            "createdByBatchID": _S,
            "modifiedByBatchID": _S,
            "personID": _S,
            "repositoryCreatedBy": _S,
            "repositoryLastModifiedBy": _S,
        },
    },
    EVENT_CLASS: {
        "type": "object",
        "properties": {
            "_id": {"type": "string", "format": "uri-reference"},
            "timestamp": {"type": "string", "format": "date-time"},
            "eventType": _S,
            "producedBy": _S,
            "eventMergeId": _S,
            "identityMap": IDENTITY_MAP,
            "_repo": _REPO,
            "_experience": OPEN,
        },
        "required": ["_id", "timestamp"],
    },
}

_PERSON: Schema = {
    "type": "object",
    "properties": {
        "name": {
            "type": "object",
            "properties": dict.fromkeys(
                ("firstName", "middleName", "lastName", "fullName", "courtesyTitle", "suffix"), _S
            ),
        },
        "birthDate": {"type": "string", "format": "date"},
        "birthDayAndMonth": _S,
        "birthYear": {"type": "integer", "minimum": 1, "maximum": 32767},
        "gender": {"type": "string", "enum": ["male", "female", "not_specified", "non_specific"]},
        "maritalStatus": _S,
        "nationality": _S,
    },
}
FIELD_GROUPS: dict[str, Schema] = {
    "https://ns.adobe.com/xdm/context/profile-person-details": {"properties": {"person": _PERSON}},
    "https://ns.adobe.com/xdm/context/profile-personal-details": {
        "properties": {
            "personalEmail": EMAIL,
            "homeAddress": ADDRESS,
            "mobilePhone": PHONE,
            "homePhone": PHONE,
            "faxPhone": PHONE,
        }
    },
    "https://ns.adobe.com/xdm/context/profile-work-details": {
        "properties": {
            "workEmail": EMAIL,
            "workAddress": ADDRESS,
            "workPhone": PHONE,
            "organizations": {"type": "array"},
        }
    },
    "https://ns.adobe.com/xdm/context/identitymap": {"properties": {"identityMap": IDENTITY_MAP}},
    "https://ns.adobe.com/xdm/context/experienceevent-environment-details": {"properties": {"environment": OPEN}},
    "https://ns.adobe.com/xdm/context/experienceevent-commerce": {
        "properties": {"commerce": OPEN, "productListItems": {"type": "array"}}
    },
    "https://ns.adobe.com/xdm/context/experienceevent-web": {"properties": {"web": OPEN}},
}

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


def merge_into(target: Schema, extra: Mapping[str, Any]) -> None:
    """Deep-merge the `properties`/`required` of `extra` into `target`."""
    props = target.setdefault("properties", {})
    for key, sub in extra.get("properties", {}).items():
        if key in props and isinstance(sub, dict) and "properties" in sub and "properties" in props[key]:
            merge_into(props[key], sub)
        else:
            props[key] = copy.deepcopy(sub)
    req = target.setdefault("required", [])
    for key in extra.get("required", []):
        if key not in req:
            req.append(key)


def _fieldgroup_parts(doc: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """Property blocks of a field group or schema document: its definitions and inline properties."""
    for block in doc.get("definitions", {}).values():
        if isinstance(block, dict):
            yield block
    if "properties" in doc:
        yield doc


def class_of(doc: Mapping[str, Any], tenant_groups: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The class a schema or field group extends, from `meta:class`, `meta:extends` or `allOf`."""
    if isinstance(doc.get("meta:class"), str):
        return str(doc["meta:class"])
    for ref in refs_of(doc):
        if ref in CLASSES:
            return ref
    for ref in refs_of(doc):
        group = tenant_groups.get(ref)
        if group:
            for cls in group.get("meta:intendedToExtend", []):
                if cls in CLASSES:
                    return str(cls)
    return None


def refs_of(doc: Mapping[str, Any]) -> list[str]:
    return [str(part["$ref"]) for part in doc.get("allOf", []) if isinstance(part, dict) and "$ref" in part]


def compile_schema(
    schema_id: str,
    doc: Mapping[str, Any],
    tenant_groups: Mapping[str, Mapping[str, Any]],
    descriptors: Iterable[Mapping[str, Any]] = (),
) -> CompiledSchema:
    klass = class_of(doc, tenant_groups)
    root: Schema = {"type": "object", "properties": {}, "required": []}
    open_root = klass is None
    if klass:
        merge_into(root, CLASSES[klass])
    for ref in refs_of(doc):
        if ref in CLASSES:
            continue
        if ref in FIELD_GROUPS:
            merge_into(root, FIELD_GROUPS[ref])
        elif ref in tenant_groups:
            for part in _fieldgroup_parts(tenant_groups[ref]):
                merge_into(root, part)
        elif ref.startswith("#/definitions/"):
            block = doc.get("definitions", {}).get(ref.removeprefix("#/definitions/"))
            if isinstance(block, dict):
                merge_into(root, block)
        else:
            open_root = True
    if "properties" in doc:
        merge_into(root, doc)
    identities = []
    for desc in descriptors:
        path = tuple(p for p in str(desc.get("xdm:sourceProperty", "")).split("/") if p)
        if path:
            identities.append(IdentityField(path, str(desc.get("xdm:namespace", "")), bool(desc.get("xdm:isPrimary"))))
    return CompiledSchema(schema_id, klass, root, open_root, tuple(identities))


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
