"""Schema resolution: the stored (allOf/$ref) form of a schema -> its xed-full form, and the validator built on it."""

from __future__ import annotations

from typing import Any

from connector.emulator.resolve import compile_schema, instance_name, library_lookup, resolve, strip_text, xdm_type
from connector.emulator.xdm import validate_entity
from connector.emulator.xdmlib import EVENT_CLASS, PROFILE_CLASS

DATATYPE: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acme/datatypes/tier",
    "title": "Tier",
    "properties": {
        "name": {"type": "string", "enum": ["gold", "silver"]},
        "since": {"type": "string", "format": "date"},
    },
    "required": ["name"],
}
GROUP: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acme/mixins/g",
    "meta:intendedToExtend": [PROFILE_CLASS],
    "definitions": {
        "custom": {"properties": {"_acme": {"type": "object", "properties": {"tier": {"$ref": DATATYPE["$id"]}}}}}
    },
    "allOf": [{"$ref": "#/definitions/custom"}],
}
TENANT = {DATATYPE["$id"]: DATATYPE, GROUP["$id"]: GROUP}
SCHEMA: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acme/schemas/s",
    "title": "S",
    "allOf": [
        {"$ref": PROFILE_CLASS},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
        {"$ref": GROUP["$id"]},
    ],
}


def test_resolution_merges_groups_and_expands_data_types() -> None:
    """Class, behaviours, field groups merge into properties; data type $refs expand with meta:referencedFrom."""
    resolved = resolve(SCHEMA, library_lookup(TENANT))
    full = resolved.doc
    assert "allOf" not in full and full["type"] == "object" and full["meta:xdmType"] == "object"
    tier = full["properties"]["_acme"]["properties"]["tier"]
    assert tier["meta:referencedFrom"] == DATATYPE["$id"] and tier["title"] == "Tier"
    assert tier["required"] == ["name"] and tier["properties"]["since"]["meta:xdmType"] == "date"
    assert full["properties"]["homeAddress"]["properties"]["countryCode"]["pattern"] == "^[A-Z]{2}$"
    assert full["meta:extends"][:2] == [PROFILE_CLASS, "https://ns.adobe.com/xdm/data/record"]
    assert GROUP["$id"] in full["meta:extends"] and DATATYPE["$id"] not in full["meta:extends"]
    assert DATATYPE["$id"] in resolved.uses and resolved.unresolved == []


def test_event_required_fields_use_instance_names() -> None:
    """`@id`/`xdm:timestamp` in a stored schema become `_id`/`timestamp` in xed-full."""
    doc = {"allOf": [{"$ref": EVENT_CLASS}], "required": ["@id", "xdm:timestamp"]}
    assert resolve(doc, library_lookup({})).doc["required"] == ["_id", "timestamp"]
    assert [instance_name(n) for n in ("@id", "xdm:eventType", "_acme", "repo:createDate")] == [
        "_id",
        "eventType",
        "_acme",
        "createDate",
    ]


def test_unknown_refs_are_reported_and_leave_the_schema_open() -> None:
    """An allOf $ref nothing knows is listed as unresolved; the compiled schema accepts unknown keys then."""
    doc = {"allOf": [{"$ref": PROFILE_CLASS}, {"$ref": "https://ns.adobe.com/other/mixins/x"}]}
    assert resolve(doc, library_lookup({})).unresolved == ["https://ns.adobe.com/other/mixins/x"]
    compiled = compile_schema("s", doc, {})
    assert compiled.open_root and validate_entity(compiled, {"anything": 1}) == []


def test_validator_checks_records_against_the_resolved_form() -> None:
    """The emulator validates against what xed-full shows: enum inside an expanded data type, unknown keys."""
    compiled = compile_schema(SCHEMA["$id"], SCHEMA, TENANT)
    found = validate_entity(compiled, {"_acme": {"tier": {"name": "bronze"}}, "nickname": "x"})
    assert {(v["pointerToViolation"], v["keyword"]) for v in found} == {
        ("#/_acme/tier/name", "enum"),
        ("#", "additionalProperties"),
    }
    assert validate_entity(compiled, {"_acme": {"tier": {"name": "gold", "since": "2024-01-02"}}}) == []


def test_xdm_types_and_notext() -> None:
    """meta:xdmType follows type, format and integer range; -notext strips titles at any depth."""
    assert xdm_type({"type": "integer", "minimum": 1, "maximum": 32767}) == "short"
    assert xdm_type({"type": "integer"}) == "int"
    assert xdm_type({"type": "integer", "maximum": 2**40}) == "long"
    assert xdm_type({"type": "string", "format": "date-time"}) == "date-time"
    assert xdm_type({"type": "object", "additionalProperties": {"type": "string"}}) == "map"
    assert strip_text({"title": "a", "p": [{"title": "b", "x": 1}]}, ("title",)) == {"p": [{"x": 1}]}
    field_named_title = {"properties": {"title": {"type": "string", "title": "Title"}}}
    assert strip_text(field_named_title, ("title",)) == {"properties": {"title": {"type": "string"}}}
