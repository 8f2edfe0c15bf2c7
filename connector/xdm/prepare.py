"""AEP's XDM rules, made explicit: a resolved XDM schema (xed-full) -> a strict JSON Schema.

The Schema Registry's `application/vnd.adobe.xed-full+json;version=1` answer is JSON Schema with
the class and every field group expanded into `properties`, plus `meta:*` annotations. AEP's
streaming validation is stricter than plain JSON Schema reading of that document; each rule below
turns one such difference into ordinary JSON Schema, so one compiled validator checks everything
per record and no rule costs a Python walk of the entity:

  closed objects      an object with `properties` rejects keys it does not list, unless it is an
                      XDM map (`meta:xdmType: map`) or sets `additionalProperties` itself
  integer types       `meta:xdmType` byte/short/int/long bound the value to that type's range
                      when the schema gives no minimum/maximum
  required names      `required` may name fields by their XDM name (`xdm:timestamp`, `@id`); they
                      are translated to the instance names through `meta:xdmField`
  ExperienceEvent     `_id` (string) and `timestamp` (date-time) are required
  date-time           besides RFC 3339 validity, the value must have one of the four shapes AEP
                      accepts (seconds present, 1-9 fraction digits, `Z` or `+hh:mm`)
  identityMap         each identity is an object with a non-empty string `id`, `authenticatedState`
                      one of ambiguous/authenticated/loggedOut and a boolean `primary`

Annotations are left alone: `meta:enum` lists *suggested* values (AEP accepts others, e.g. custom
`eventType`s) and is not enforced; `enum` is. The tenant namespace (`meta:tenantNamespace`) needs
no rule of its own: the root object is closed, and violations under it are explained by name.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
# AEP's accepted date-time shapes (streaming-api.md §5.1, from the validator's own message).
DATE_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
DATE_TIME_EXPECTED = (
    "yyyy-MM-dd'T'HH:mm:ssZ, yyyy-MM-dd'T'HH:mm:ss.[0-9]{1-9}Z, yyyy-MM-dd'T'HH:mm:ss[+-]HH:mm, "
    "yyyy-MM-dd'T'HH:mm:ss.[0-9]{1,9}[+-]HH:mm"
)
INTEGER_RANGES = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**53) + 1, 2**53 - 1),  # AEP's long is a JSON-safe integer
}
IDENTITY_STATES = ["ambiguous", "authenticated", "loggedOut"]
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("additionalProperties", "items", "not", "contains", "propertyNames", "if", "then", "else")


class UnusableSchema(Exception):
    """The document is not a resolved XDM schema this validator can use."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A resolved XDM schema and the strict JSON Schema compiled from it."""

    schema_id: str
    version: str
    digest: str  # of the source document: a changed schema is recompiled, an unchanged one is not
    xdm_class: str | None
    tenant_namespace: str | None
    strict: dict[str, Any]
    source: dict[str, Any]


def digest_of(doc: Mapping[str, Any]) -> str:
    """A stable hash of a schema document, minus registry bookkeeping that changes on every read."""
    body = {k: v for k, v in doc.items() if k != "meta:registryMetadata"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def xdm_class_of(doc: Mapping[str, Any]) -> str | None:
    klass = doc.get("meta:class")
    if isinstance(klass, str):
        return klass
    extends = doc.get("meta:extends")
    if isinstance(extends, list):
        for cls in (EVENT_CLASS, PROFILE_CLASS):
            if cls in extends:
                return cls
    return None


def prepare(doc: Any, expected_id: str | None = None) -> Prepared:
    """The strict JSON Schema of a resolved XDM schema; UnusableSchema says why not."""
    if not isinstance(doc, dict):
        raise UnusableSchema(f"expected a JSON object, got {type(doc).__name__}")
    schema_id = doc.get("$id")
    if not isinstance(schema_id, str) or not schema_id:
        raise UnusableSchema("the document has no $id: is it an XDM schema exported from the Schema Registry?")
    if expected_id and schema_id != expected_id:
        raise UnusableSchema(f"the document is schema {schema_id}, not {expected_id}")
    if not isinstance(doc.get("properties"), dict):
        raise UnusableSchema(
            f"schema {schema_id} has no properties: it is the unresolved (allOf) form; fetch it with "
            "Accept: application/vnd.adobe.xed-full+json;version=1"
        )
    for ref in _remote_refs(doc):
        raise UnusableSchema(f"schema {schema_id} still references {ref}: only the resolved (xed-full) form is usable")
    strict = copy.deepcopy({k: v for k, v in doc.items() if k != "meta:registryMetadata"})
    strict.pop("$schema", None)  # draft-06 and later read these keywords alike; pin the dialect below
    strict["$schema"] = "http://json-schema.org/draft-07/schema#"
    strict.pop("$id", None)  # no base URI: nothing may ever be resolved over the network
    klass = xdm_class_of(doc)
    for node in _schema_nodes(strict):
        _close_object(node)
        _bound_integer(node)
        _required_names(node)
        _date_time_shape(node)
    if klass == EVENT_CLASS:
        _event_rules(strict)
    _identity_map_rule(strict)
    version = doc.get("version")
    tenant = doc.get("meta:tenantNamespace")
    digest = digest_of(doc)
    return Prepared(
        schema_id=schema_id,
        # a schema file saved without `version` is named by its content, so a dead letter still says which one
        version=str(version) if version is not None else f"sha256:{digest[:12]}",
        digest=digest,
        xdm_class=klass,
        tenant_namespace=tenant if isinstance(tenant, str) else None,
        strict=strict,
        source=doc,
    )


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every subschema, walking only schema positions (a property *named* `title` is not a keyword)."""
    if not isinstance(node, dict):
        return
    yield node
    for key in _SCHEMA_MAPS:
        children = node.get(key)
        if isinstance(children, dict):
            for child in children.values():
                yield from _schema_nodes(child)
    for key in _SCHEMA_LISTS:
        children = node.get(key)
        if isinstance(children, list):
            for child in children:
                yield from _schema_nodes(child)
    for key in _SCHEMA_ONE:
        child = node.get(key)
        if isinstance(child, list):  # tuple-form items
            for c in child:
                yield from _schema_nodes(c)
        else:
            yield from _schema_nodes(child)


def _remote_refs(doc: Any) -> Iterator[str]:
    for node in _schema_nodes(doc):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield ref


def _close_object(node: dict[str, Any]) -> None:
    if (
        isinstance(node.get("properties"), dict)
        and "additionalProperties" not in node
        and node.get("meta:xdmType") != "map"
    ):
        node["additionalProperties"] = False


def _bound_integer(node: dict[str, Any]) -> None:
    bounds = INTEGER_RANGES.get(str(node.get("meta:xdmType")))
    if bounds is None or node.get("type") not in ("integer", "number"):
        return
    node.setdefault("minimum", bounds[0])
    node.setdefault("maximum", bounds[1])


def _required_names(node: dict[str, Any]) -> None:
    required, props = node.get("required"), node.get("properties")
    if not isinstance(required, list) or not isinstance(props, dict):
        return
    by_xdm_name: dict[str, str] = {
        child["meta:xdmField"]: name
        for name, child in props.items()
        if isinstance(child, dict) and isinstance(child.get("meta:xdmField"), str)
    }
    names: list[str] = []
    for name in required:
        instance = str(name) if name in props else by_xdm_name.get(str(name), str(name))
        if instance not in names:
            names.append(instance)
    node["required"] = names


def _date_time_shape(node: dict[str, Any]) -> None:
    if node.get("format") != "date-time" or node.get("pattern") == DATE_TIME_PATTERN:
        return
    if any(isinstance(p, dict) and p.get("pattern") == DATE_TIME_PATTERN for p in node.get("allOf", [])):
        return
    if "pattern" not in node:
        node["pattern"] = DATE_TIME_PATTERN
    else:
        node["allOf"] = [*node.get("allOf", []), {"pattern": DATE_TIME_PATTERN}]


def _event_rules(root: dict[str, Any]) -> None:
    props = root["properties"]
    props["_id"] = {"format": "uri-reference", **props.get("_id", {}), "type": "string"}
    props["timestamp"] = {**props.get("timestamp", {}), "type": "string", "format": "date-time"}
    _date_time_shape(props["timestamp"])
    required = root.setdefault("required", [])
    for name in ("_id", "timestamp"):
        if name not in required:
            required.append(name)


def _identity_map_rule(root: dict[str, Any]) -> None:
    idmap = root["properties"].get("identityMap")
    if not isinstance(idmap, dict):
        return
    entries = idmap.get("additionalProperties")
    entries = entries if isinstance(entries, dict) else {}
    item = entries.get("items")
    item = item if isinstance(item, dict) else {}
    props = item.get("properties")
    props = dict(props) if isinstance(props, dict) else {}
    props["id"] = {**props.get("id", {}), "type": "string", "minLength": 1}
    props["authenticatedState"] = {**props.get("authenticatedState", {}), "type": "string", "enum": IDENTITY_STATES}
    props["primary"] = {**props.get("primary", {}), "type": "boolean"}
    required = [r for r in item.get("required", []) if r != "id"] if isinstance(item.get("required"), list) else []
    item = {**item, "type": "object", "properties": props, "required": ["id", *required]}
    item.setdefault("additionalProperties", False)
    idmap["type"] = "object"
    idmap["additionalProperties"] = {**entries, "type": "array", "items": item}
