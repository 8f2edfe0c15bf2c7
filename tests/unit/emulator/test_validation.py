"""DCCS envelope checks and streaming validation, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from connector.emulator.resolve import compile_schema
from connector.emulator.validation import (
    UNKNOWN_FORMAT,
    WRONG_ORG,
    Checked,
    DatasetInfo,
    InletInfo,
    Rejection,
    check_envelope,
    streaming_violations,
)
from connector.emulator.xdm import parse_date_time_ms
from connector.emulator.xdmlib import EVENT_CLASS, PROFILE_CLASS

ORG = "0123456789ABCDEF01234567@AdobeOrg"
INLET = InletInfo("a" * 64, ORG)
SCHEMA = "https://ns.adobe.com/acme/schemas/1"
NOW_MS = 1_750_000_000_000
GROUP: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acme/mixins/1",
    "meta:intendedToExtend": [PROFILE_CLASS],
    "definitions": {
        "f": {
            "properties": {
                "_acme": {
                    "type": "object",
                    "properties": {
                        "loyaltyID": {"type": "string", "format": "email"},
                        "level": {"type": "string", "enum": ["Gold", "Silver"]},
                        "points": {"type": "integer", "minimum": 0},
                    },
                }
            }
        }
    },
}


def _msg(entity: dict[str, Any] | None = None, **header: Any) -> dict[str, Any]:
    ref = {"id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    return {
        "header": {"schemaRef": ref, "imsOrgId": ORG, "datasetId": "ds", **header},
        "body": {"xdmMeta": {"schemaRef": dict(ref)}, "xdmEntity": entity if entity is not None else {"a": 1}},
    }


def _check(msg: Any, dataset: DatasetInfo | None = None) -> Checked | Rejection:
    return check_envelope(msg, INLET, lambda _: dataset, lambda _: None)


def _profile_schema() -> DatasetInfo:
    person = "https://ns.adobe.com/xdm/context/profile-person-details"
    doc = {"allOf": [{"$ref": PROFILE_CLASS}, {"$ref": person}, {"$ref": GROUP["$id"]}]}
    descriptor = {"xdm:sourceProperty": "/_acme/loyaltyID", "xdm:namespace": "Email", "xdm:isPrimary": True}
    schema = compile_schema(SCHEMA, doc, {GROUP["$id"]: GROUP}, [descriptor])
    return DatasetInfo("ds", SCHEMA, schema)


@pytest.mark.parametrize(
    "msg",
    [
        [],
        {"header": {}},
        {"header": {"msgType": "xdmEntityCreate", "xdmSchema": {"name": "_xdm.context.experienceevent"}}, "body": {}},
        {**_msg(), "body": {"xdmEntity": {"a": 1}}},
        {**_msg(), "body": {"xdmMeta": {"schemaRef": {"id": SCHEMA}}}},
    ],
)
def test_bad_envelopes_have_unknown_format(msg: Any) -> None:
    """Missing header/body/xdmMeta/xdmEntity and the legacy header are 'unknown xdm format'."""
    assert _check(msg) == Rejection(UNKNOWN_FORMAT)


def test_schema_ref_mismatch_is_unknown_format() -> None:
    """header.schemaRef must equal body.xdmMeta.schemaRef."""
    msg = _msg()
    msg["body"]["xdmMeta"]["schemaRef"]["id"] = "https://ns.adobe.com/acme/schemas/2"
    assert _check(msg) == Rejection(UNKNOWN_FORMAT)


def test_dataset_schema_mismatch_is_unknown_format() -> None:
    """The schemaRef must be the dataset's schema when the dataset is known."""
    assert _check(_msg(), DatasetInfo("ds", "https://ns.adobe.com/acme/schemas/other")) == Rejection(UNKNOWN_FORMAT)


def test_wrong_org_and_missing_org() -> None:
    """A different imsOrgId is refused; a missing one is accepted (DCCS adds it)."""
    assert _check(_msg(imsOrgId="X@AdobeOrg")) == Rejection(WRONG_ORG)
    msg = _msg()
    del msg["header"]["imsOrgId"]
    assert isinstance(_check(msg), Checked)


def test_rejection_message_text() -> None:
    """Messages carry Adobe's prefix with inlet and org, and the causes after 'Message is invalid'."""
    assert Rejection(WRONG_ORG).message(INLET) == f"inletId: [{'a' * 64}] imsOrgId: [{ORG}] {WRONG_ORG}"


def _violations(entity: dict[str, Any], dataset: DatasetInfo | None = None) -> list[dict[str, Any]]:
    checked = _check(_msg(entity), dataset)
    assert isinstance(checked, Checked)
    return streaming_violations(checked, NOW_MS, 300)


@pytest.mark.parametrize(
    ("entity", "pointer"),
    [
        ({"a": None}, "#/a"),
        ({"a": ""}, "#/a"),
        ({"a": {"b": {}}}, "#/a/b"),
        ({"a": []}, "#/a"),
        ({"a": [1, None]}, "#/a/1"),
    ],
)
def test_null_and_empty_values_are_refused(entity: dict[str, Any], pointer: str) -> None:
    """No null or empty string/object/array anywhere in xdmEntity."""
    assert [v["pointerToViolation"] for v in _violations(entity)] == [pointer]


def test_event_rules_without_schema() -> None:
    """Events (detected by timestamp): _id must be a string, timestamp RFC 3339 and not in the future."""
    assert _violations({"_id": "x", "timestamp": "2024-01-01T00:00:00Z"}) == []
    (int_id,) = _violations({"_id": 15367038, "timestamp": "2024-01-01T00:00:00Z"})
    assert int_id["message"] == "expected type: String, found: Integer"
    (bad_ts,) = _violations({"_id": "x", "timestamp": "2018-00-23T22:07:01Z"})
    assert bad_ts["message"].startswith("[2018-00-23T22:07:01Z] is not a valid date-time. Expected [")
    (future,) = _violations({"_id": "x", "timestamp": "2099-01-01T00:00:00Z"})
    assert future["pointerToViolation"] == "#/timestamp"


def test_event_class_from_dataset_schema() -> None:
    """A dataset whose schema is an ExperienceEvent requires _id and timestamp."""
    schema = compile_schema(SCHEMA, {"allOf": [{"$ref": EVENT_CLASS}]}, {})
    messages = {v["message"] for v in _violations({"eventType": "x"}, DatasetInfo("ds", SCHEMA, schema))}
    assert messages == {"required key [_id] not found", "required key [timestamp] not found"}


def test_schema_walker_types_formats_and_unknown_fields() -> None:
    """Known schema: unknown keys, wrong types, formats, enums, ranges and the primary identity are checked."""
    entity = {
        "_acme": {"loyaltyID": "not-an-email", "level": "Bronze", "points": -1},
        "person": {"name": {"firstName": 5}},
        "workEmail": {"address": "a@b.c"},
    }
    found = {(v["pointerToViolation"], v["keyword"]) for v in _violations(entity, _profile_schema())}
    assert found == {
        ("#/_acme/loyaltyID", "format"),
        ("#/_acme/level", "enum"),
        ("#/_acme/points", "minimum"),
        ("#/person/name/firstName", "type"),
        ("#", "additionalProperties"),
    }


def test_primary_identity_is_required() -> None:
    """The primary identity field of a descriptor must be present."""
    (v,) = _violations({"_acme": {"level": "Gold"}}, _profile_schema())
    assert v["message"] == "required key [loyaltyID] not found"


def test_at_most_five_violations() -> None:
    """Validation stops after 5 errors per message."""
    assert len(_violations({f"k{i}": "" for i in range(9)})) == 5


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2020-03-03T06:34:55Z", True),
        ("2020-03-03T06:34:55.123456789Z", True),
        ("2020-03-03T06:34:55+02:00", True),
        ("2020-03-03T06:34:55.1-05:30", True),
        ("2020-03-03 06:34:55Z", False),
        ("2020-03-03T06:34:55", False),
        ("2020-02-30T06:34:55Z", False),
    ],
)
def test_date_time_patterns(text: str, ok: bool) -> None:
    """Only the four date-time patterns AEP lists are accepted."""
    assert (parse_date_time_ms(text) is not None) is ok
