"""Validation of mapped entities against an exported XDM schema (fixtures/loyalty-event-schema.json)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from connector.mapping.xdm_schema import Violation, validate_entity
from tests.unit.mapping.helpers import GOLDEN

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "loyalty-event-schema.json").read_text(encoding="utf-8"))


def _golden_entities() -> list[dict[str, Any]]:
    envelopes = json.loads((GOLDEN / "loyalty-events.json").read_text(encoding="utf-8"))
    return [e["body"]["xdmEntity"] for e in envelopes]


def test_golden_loyalty_events_are_valid() -> None:
    """Every mapped sample event satisfies the exported schema."""
    for entity in _golden_entities():
        assert validate_entity(entity, SCHEMA) == []


def test_type_mismatch_and_unknown_field_are_reported_with_pointers() -> None:
    """A string where an integer belongs and a field the schema lacks are named by JSON pointer."""
    entity = copy.deepcopy(_golden_entities()[0])
    entity["_exchangeinternal"]["totalPoints"] = "211050"
    entity["unknownField"] = 1
    violations = validate_entity(entity, SCHEMA)
    assert Violation("/_exchangeinternal/totalPoints", "expected type integer, found string") in violations
    assert Violation("/unknownField", "extraneous key [unknownField] is not permitted") in violations
    assert len(violations) == 2


def test_required_enum_format_and_nested_array_items() -> None:
    """Missing required fields, enum misses, bad date-time and bad identity items are all reported."""
    entity = copy.deepcopy(_golden_entities()[0])
    del entity["_id"]
    entity["timestamp"] = "03/03/2020"
    entity["_exchangeinternal"]["loyaltyLevel"] = "Bronze"
    entity["_exchangeinternal"]["pointsEarned"] = -1
    entity["identityMap"]["Email"][0]["authenticatedState"] = "maybe"
    entity["identityMap"]["Email"][0]["extra"] = True
    pointers = {v.pointer for v in validate_entity(entity, SCHEMA)}
    assert pointers == {
        "/_id",
        "/timestamp",
        "/_exchangeinternal/loyaltyLevel",
        "/_exchangeinternal/pointsEarned",
        "/identityMap/Email/0/authenticatedState",
        "/identityMap/Email/0/extra",
    }


def test_pointer_escapes_slash_and_tilde() -> None:
    """Keys with '/' or '~' are escaped in pointers as RFC 6901 says."""
    assert validate_entity({"a/b~c": 1}, {"type": "object", "properties": {"x": {}}}) == [
        Violation("/a~1b~0c", "extraneous key [a/b~c] is not permitted")
    ]
