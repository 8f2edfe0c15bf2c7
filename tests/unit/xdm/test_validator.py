"""The XDM validator: AEP's keywords and formats, its stricter rules, exact decimals, short messages."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

import pytest

from connector.xdm.prepare import UnusableSchema, prepare
from connector.xdm.validator import Violation, XdmValidator, quote
from tests.unit.mapping.helpers import GOLDEN
from tests.unit.xdm.helpers import LOYALTY_SCHEMA, acme_event, event_schema, loyalty_entity


def validator(doc: dict[str, Any]) -> XdmValidator:
    return XdmValidator(prepare(doc))


def rules(v: XdmValidator, entity: dict[str, Any]) -> set[tuple[str, str]]:
    """(pointer, keyword) of every violation; also checks the fast path agrees."""
    found = v.violations(entity)
    assert v.is_valid(entity) is (not found)
    return {(x.pointer, x.keyword) for x in found}


LOYALTY = validator(LOYALTY_SCHEMA)


def test_golden_loyalty_events_are_valid() -> None:
    """Every golden mapped loyalty event satisfies the exported loyalty-events schema."""
    import json

    for envelope in json.loads((GOLDEN / "loyalty-events.json").read_text(encoding="utf-8")):
        entity = envelope["body"]["xdmEntity"]
        assert LOYALTY.violations(entity) == []
        assert LOYALTY.is_valid(entity)


def test_type_mismatch_and_unknown_key_are_named_by_pointer() -> None:
    """A string where an integer belongs, and a key the schema lacks, each give pointer + rule."""
    entity = loyalty_entity()
    entity["_exchangeinternal"]["totalPoints"] = "211050"
    entity["unknownField"] = 1
    found = LOYALTY.violations(entity)
    assert Violation("/_exchangeinternal/totalPoints", "type", 'expected integer, found string "211050"') in found
    assert Violation("/unknownField", "additionalProperties", "field [unknownField] is not in the schema") in found
    assert len(found) == 2


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2020-03-03T06:34:55Z", True),
        ("2020-03-03T06:34:55.123Z", True),
        ("2020-03-03T06:34:55.123456789Z", True),
        ("2020-03-03T06:34:55+05:30", True),
        ("2020-03-03T06:34:55.5-08:00", True),
        ("2020-03-03T06:34:55.1234567891Z", False),  # AEP accepts at most 9 fraction digits
        ("2020-03-03T06:34Z", False),  # seconds are required
        ("2020-03-03 06:34:55Z", False),
        ("2020-03-03T06:34:55", False),  # no offset
        ("2020-03-03T06:34:55+0530", False),
        ("2018-00-23T22:07:01Z", False),  # AEP's own example of an invalid date-time
        ("2021-02-30T00:00:00Z", False),
        ("2020-03-03T25:00:00Z", False),
    ],
)
def test_date_time_accepts_exactly_aeps_shapes(value: str, valid: bool) -> None:
    """date-time: RFC 3339 validity and one of the four shapes in AEP's validator message."""
    found = LOYALTY.violations(loyalty_entity(timestamp=value))
    assert (found == []) is valid
    if not valid:
        assert found[0].pointer == "/timestamp" and found[0].keyword == "format"
        assert "is not a valid date-time. Expected [yyyy-MM-dd'T'HH:mm:ssZ" in found[0].message


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date", "2024-02-29", "2023-02-29"),
        ("email", "jane@example.com", "jane.example.com"),
        ("uri", "https://example.com/a?b=c", "not a uri"),
        ("uri-reference", "/a/b#c", "has space"),
    ],
)
def test_formats(fmt: str, good: str, bad: str) -> None:
    """date, email, uri and uri-reference are checked; the violation names the format."""
    v = validator(event_schema({"f": {"type": "string", "format": fmt}}))
    assert rules(v, acme_event(f=good)) == set()
    assert rules(v, acme_event(f=bad)) == {("/_acme/f", "format")}
    assert f"is not a valid {fmt}" in v.violations(acme_event(f=bad))[0].message


def test_value_keywords() -> None:
    """enum, minimum/maximum, exclusive bounds, minLength/maxLength, pattern, min/maxItems."""
    v = validator(
        event_schema(
            {
                "level": {"type": "string", "enum": ["Gold", "Silver"]},
                "n": {"type": "number", "minimum": 0, "maximum": 10},
                "x": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "s": {"type": "string", "minLength": 2, "maxLength": 3},
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
            }
        )
    )
    ok = acme_event(level="Gold", n=10, x=0.5, s="ab", code="USD", tags=["a"])
    assert rules(v, ok) == set()
    bad = acme_event(level="Bronze", n=-1, x=1, s="abcd", code="usd", tags=["a", "b", "c"])
    assert rules(v, bad) == {
        ("/_acme/level", "enum"),
        ("/_acme/n", "minimum"),
        ("/_acme/x", "exclusiveMaximum"),
        ("/_acme/s", "maxLength"),
        ("/_acme/code", "pattern"),
        ("/_acme/tags", "maxItems"),
    }
    assert rules(v, acme_event(n=11, s="a", tags=[])) == {
        ("/_acme/n", "maximum"),
        ("/_acme/s", "minLength"),
        ("/_acme/tags", "minItems"),
    }


def test_integer_versus_number_and_booleans() -> None:
    """integer refuses fractions and strings; number takes ints; a boolean is neither."""
    v = validator(event_schema({"i": {"type": "integer"}, "n": {"type": "number"}, "b": {"type": "boolean"}}))
    assert rules(v, acme_event(i=3, n=3, b=False)) == set()
    assert rules(v, acme_event(i=3.5, n="3", b="true")) == {
        ("/_acme/i", "type"),
        ("/_acme/n", "type"),
        ("/_acme/b", "type"),
    }
    assert rules(v, acme_event(i=True, n=False)) == {("/_acme/i", "type"), ("/_acme/n", "type")}
    assert rules(v, acme_event(i=None)) == {("/_acme/i", "type")}  # AEP accepts no nulls


def test_decimal_is_a_number_compared_exactly_and_left_unconverted() -> None:
    """Decimal passes as number (and as integer when integral), bounds compare exactly, the entity is untouched."""
    v = validator(
        event_schema(
            {
                "amount": {"type": "number", "maximum": 10},
                "qty": {"type": "integer"},
                "big": {"type": "integer", "meta:xdmType": "long"},
            }
        )
    )
    amount = Decimal("9.99999999999999999999999")
    entity = acme_event(amount=amount, qty=Decimal("5"))
    assert rules(v, entity) == set()
    assert entity["_acme"]["amount"] is amount  # not converted
    assert rules(v, acme_event(amount=Decimal("10.00000000000000000000001"))) == {("/_acme/amount", "maximum")}
    assert rules(v, acme_event(qty=Decimal("5.5"))) == {("/_acme/qty", "type")}
    over = v.violations(acme_event(amount=Decimal("10.00000000000000000000001")))[0]
    assert "10.00000000000000000000001 is above the maximum 10" in over.message  # the record's own digits
    assert rules(v, acme_event(big=2**53 - 1)) == set()
    assert rules(v, acme_event(big=2**70)) == {("/_acme/big", "maximum")}
    assert rules(v, acme_event(big=Decimal(2**53))) == {("/_acme/big", "maximum")}


def test_integer_types_are_bounded_by_their_xdm_type() -> None:
    """meta:xdmType byte/short/int/long bound values the schema leaves unbounded; explicit bounds win."""
    v = validator(
        event_schema(
            {
                "b": {"type": "integer", "meta:xdmType": "byte"},
                "s": {"type": "integer", "meta:xdmType": "short"},
                "i": {"type": "integer", "meta:xdmType": "int"},
                "own": {"type": "integer", "meta:xdmType": "int", "maximum": 5},
            }
        )
    )
    assert rules(v, acme_event(b=127, s=-32768, i=2**31 - 1, own=5)) == set()
    assert rules(v, acme_event(b=128, s=-32769, i=2**31, own=6)) == {
        ("/_acme/b", "maximum"),
        ("/_acme/s", "minimum"),
        ("/_acme/i", "maximum"),
        ("/_acme/own", "maximum"),
    }
    assert "(XDM type byte)" in v.violations(acme_event(b=128))[0].message


def test_unknown_keys_are_errors_except_in_maps_and_open_objects() -> None:
    """Objects with properties are closed; meta:xdmType map and additionalProperties: true stay open."""
    v = validator(
        event_schema(
            {
                "known": {"type": "string"},
                "attrs": {"type": "object", "meta:xdmType": "map", "additionalProperties": {"type": "string"}},
                "loose": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
                "anything": {"type": "object"},
            }
        )
    )
    ok = acme_event(known="k", attrs={"any": "x", "key": "y"}, loose={"a": "1", "b": 2}, anything={"z": 1})
    assert rules(v, ok) == set()
    assert rules(v, acme_event(other=1, attrs={"k": 1})) == {
        ("/_acme/other", "additionalProperties"),
        ("/_acme/attrs/k", "type"),
    }


def test_custom_field_outside_the_tenant_namespace_is_explained() -> None:
    """A root `_x` key that is not the tenant namespace says where custom fields belong."""
    found = validator(event_schema({})).violations({**acme_event(), "_other": {"a": 1}})
    assert found == [
        Violation(
            "/_other",
            "additionalProperties",
            "field [_other] is not in the schema (custom fields live under the tenant namespace _acme)",
        )
    ]


def test_meta_enum_suggests_and_enum_enforces() -> None:
    """eventType's meta:enum lists suggested values only: custom event types pass (AEP accepts them)."""
    v = validator(event_schema({}))
    assert rules(v, {**acme_event(), "eventType": "loyaltyBalanceUpdate"}) == set()


def test_event_requires_id_and_timestamp_whatever_the_schema_lists() -> None:
    """An ExperienceEvent needs _id and timestamp; xdm names in `required` are translated via meta:xdmField."""
    doc = event_schema({"a": {"type": "string"}}, required=[])
    v = validator(doc)
    assert rules(v, {"_acme": {"a": "x"}}) == {("/_id", "required"), ("/timestamp", "required")}
    named = validator(event_schema({}))  # required: ["@id", "xdm:timestamp"]
    assert rules(named, {"_id": "e1"}) == {("/timestamp", "required")}
    assert rules(named, {**acme_event(), "_id": 42}) == {("/_id", "type")}


def test_nested_required_and_array_items() -> None:
    """required inside objects and checks of array items point at the item index."""
    v = validator(
        event_schema(
            {
                "lines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                        "required": ["sku"],
                    },
                }
            }
        )
    )
    assert rules(v, acme_event(lines=[{"sku": "a", "qty": 1}, {"qty": "2"}, {"sku": "c", "x": 1}])) == {
        ("/_acme/lines/1/sku", "required"),
        ("/_acme/lines/1/qty", "type"),
        ("/_acme/lines/2/x", "additionalProperties"),
    }


def test_identity_map_shape() -> None:
    """identityMap: namespaces map to arrays of {id (non-empty string), authenticatedState, primary}."""
    doc = event_schema({})
    doc["properties"]["identityMap"] = {"type": "object", "meta:xdmType": "map"}  # a loose export still gets the rule
    v = validator(doc)
    good = {"Email": [{"id": "a@b.c", "authenticatedState": "authenticated", "primary": True}], "ECID": [{"id": "1"}]}
    assert rules(v, {**acme_event(), "identityMap": good}) == set()
    bad = {
        "Email": [{"id": "", "authenticatedState": "maybe", "primary": "yes"}, {"primary": False}, {"id": 5}],
        "ECID": {"id": "1"},
    }
    assert rules(v, {**acme_event(), "identityMap": bad}) == {
        ("/identityMap/Email/0/id", "minLength"),
        ("/identityMap/Email/0/authenticatedState", "enum"),
        ("/identityMap/Email/0/primary", "type"),
        ("/identityMap/Email/1/id", "required"),
        ("/identityMap/Email/2/id", "type"),
        ("/identityMap/ECID", "type"),
    }


def test_identity_map_absent_from_the_schema_is_an_unknown_key() -> None:
    """A schema without the Identity Map field group refuses identityMap (AEP would too)."""
    assert rules(validator(event_schema({})), {**acme_event(), "identityMap": {"Email": [{"id": "x"}]}}) == {
        ("/identityMap", "additionalProperties")
    }


def test_values_are_quoted_truncated_never_whole() -> None:
    """A 1 MB string or a huge integer appears in the message as a short prefix with its size."""
    v = validator(event_schema({"n": {"type": "integer"}, "s": {"type": "string", "maxLength": 5}}))
    huge = "x" * 1_000_000
    found = v.violations(acme_event(n=huge, s=huge))
    assert {f.pointer for f in found} == {"/_acme/n", "/_acme/s"}
    for f in found:
        assert len(f.message) < 300
        assert "(1000000 chars)" in f.message
    assert quote(10**5000) == "an integer of about 5001 digits"
    assert quote(Decimal("1." + "1" * 500)).endswith("(502 chars)")
    assert quote({"a": 1}) == "an object of 1 field(s)"


def test_violations_are_capped() -> None:
    """At most 10 violations per record, so a wholly wrong record makes a bounded message."""
    v = validator(event_schema({f"f{i}": {"type": "integer"} for i in range(30)}))
    assert len(v.violations(acme_event(**{f"f{i}": "x" for i in range(30)}))) == 10


def test_pointer_escapes_slash_and_tilde() -> None:
    """Keys with '/' or '~' are escaped in pointers as RFC 6901 says."""
    v = validator(
        event_schema({"m": {"type": "object", "meta:xdmType": "map", "additionalProperties": {"type": "integer"}}})
    )
    assert rules(v, acme_event(m={"a/b~c": "x"})) == {("/_acme/m/a~1b~0c", "type")}


def test_python_values_without_a_json_form_are_violations() -> None:
    """bytes or a set in an entity cannot be sent as JSON: invalid, explained, never an exception."""
    v = validator(event_schema({"s": {"type": "string"}}))
    entity = acme_event(s=b"raw")
    assert not v.is_valid(entity)
    assert v.violations(entity)[0].keyword == "type"


def test_tuples_validate_as_arrays() -> None:
    """A tuple is a JSON array (orjson writes it as one)."""
    v = validator(event_schema({"t": {"type": "array", "items": {"type": "integer"}}}))
    assert rules(v, acme_event(t=(1, 2))) == set()


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        (
            {
                "$id": "https://ns.adobe.com/acme/schemas/t",
                "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}],
            },
            "unresolved (allOf) form",
        ),
        ({"properties": {}}, "has no $id"),
        ({"$id": "x", "properties": {"a": {"$ref": "https://ns.adobe.com/xdm/datatypes/address"}}}, "still references"),
        ([], "expected a JSON object"),
    ],
)
def test_unusable_documents_are_refused_with_the_reason(doc: Any, why: str) -> None:
    """Only a resolved (xed-full) schema can be validated against; anything else says why not."""
    with pytest.raises(UnusableSchema, match=re.escape(why)):
        prepare(doc)


def test_wrong_schema_document_is_refused() -> None:
    """A document whose $id is not the schema asked for is refused."""
    with pytest.raises(UnusableSchema, match=re.escape("not https://ns.adobe.com/acme/schemas/other")):
        prepare(event_schema({}), "https://ns.adobe.com/acme/schemas/other")


def test_preparing_does_not_modify_the_source_document() -> None:
    """The strict copy is separate: the fetched document is cached and exported exactly as AEP sent it."""
    doc = copy.deepcopy(LOYALTY_SCHEMA)
    prepared = prepare(doc)
    assert doc == LOYALTY_SCHEMA
    assert prepared.version == "1.3" and prepared.tenant_namespace == "_exchangeinternal"
    assert prepared.strict["additionalProperties"] is False


def test_a_field_named_like_a_keyword_is_a_field() -> None:
    """A property called `title` or `description` is validated as a field, not mistaken for an annotation."""
    v = validator(
        event_schema(
            {"title": {"type": "string"}, "description": {"type": "object", "properties": {"x": {"type": "integer"}}}}
        )
    )
    assert rules(v, acme_event(title="t", description={"x": 1})) == set()
    assert rules(v, acme_event(title=1, description={"x": "1", "y": 2})) == {
        ("/_acme/title", "type"),
        ("/_acme/description/x", "type"),
        ("/_acme/description/y", "additionalProperties"),
    }


def test_a_schema_file_without_version_is_named_by_its_content() -> None:
    """A dead letter names the schema version it was checked against; a file without one said `?`."""
    doc = {k: v for k, v in copy.deepcopy(LOYALTY_SCHEMA).items() if k != "version"}
    first, again = prepare(doc), prepare(copy.deepcopy(doc))
    assert re.fullmatch(r"sha256:[0-9a-f]{12}", first.version) and first.version == again.version
    doc["description"] = "changed"
    assert prepare(doc).version != first.version
