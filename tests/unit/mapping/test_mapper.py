"""CompiledMapping.map: envelope shape, empty-value stripping, identities, _id, timestamps, errors."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from connector.errors import MappingError
from connector.mapping.mapper import default_event_id
from connector.records import Route
from tests.unit.mapping.helpers import AEP, BASE, compile_one, record

EVENT = (
    BASE
    + """
fields:
  timestamp: value.ts
  eventType: value.type
"""
)


def _entity(spec: str, value: Any, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = compile_one(spec).map(record(**kw), value)["body"]["xdmEntity"]
    return out


def _error(spec: str, value: Any, **kw: Any) -> MappingError:
    with pytest.raises(MappingError) as info:
        compile_one(spec).map(record(**kw), value)
    return info.value


def test_envelope_has_header_schema_ref_and_body() -> None:
    """The envelope is exactly {header, body: {xdmMeta, xdmEntity}} with the configured ids and the record's origin."""
    env = compile_one(EVENT + "source_name: Kafka\n").map(record(), {"email": "a@b.c", "ts": "2020-01-01T00:00:00Z"})
    ref = {"id": "https://ns.adobe.com/acme/schemas/1", "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    assert env["header"] == {
        "schemaRef": ref,
        "imsOrgId": AEP.ims_org,
        "datasetId": "ds1",
        "flowId": AEP.flow_id,
        "source": {"name": "Kafka"},
        "msgId": "t/0/0",
    }
    assert env["body"]["xdmMeta"] == {"schemaRef": ref}
    assert set(env) == {"header", "body"}


def test_route_comes_from_aep_settings_with_mapping_overrides() -> None:
    """route uses aep defaults; inlet_url and flow_id in the mapping override them."""
    m = compile_one(EVENT + "inlet_url: https://dcs.example/collection/other\nflow_id: f2\n")
    assert m.route == Route(
        inlet_url="https://dcs.example/collection/other",
        flow_id="f2",
        sandbox="dev",
        ims_org=AEP.ims_org,
        authenticated=False,
        extra_headers=(("x-team", "data"),),
    )
    assert m.topics == ("t",) and m.format == "json" and m.key_format == "string" and m.avro_schema_path is None


def test_null_and_empty_values_are_left_out_recursively() -> None:
    """null, "", {} and [] vanish at every depth; false and 0 stay."""
    spec = (
        BASE.replace("experienceevent", "profile")
        + """
fields:
  person: value.person
  a.b.c: value.missing
  flag: value.flag
  zero: value.zero
"""
    )
    value = {
        "email": "x@y.z",
        "person": {"name": {"first": "A", "middle": "", "nick": None}, "tags": [], "meta": {}, "list": [None, "", {}]},
        "flag": False,
        "zero": 0,
    }
    assert _entity(spec, value) == {
        "person": {"name": {"first": "A"}},
        "flag": False,
        "zero": 0,
        "identityMap": {"Email": [{"id": "x@y.z", "authenticatedState": "ambiguous", "primary": True}]},
    }


def test_avro_logical_types_become_json_types() -> None:
    """datetime, date, Decimal, UUID and bytes become RFC 3339, ISO date, float, str and base64."""
    spec = BASE.replace("experienceevent", "profile") + "fields: {_acme: value.x}\n"
    value = {
        "email": "x@y.z",
        "x": {
            "at": datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
            "day": date(2024, 1, 2),
            "amount": Decimal("12.50"),
            "uid": UUID("12345678-1234-5678-1234-567812345678"),
            "raw": b"\x00\x01",
        },
    }
    assert _entity(spec, value)["_acme"] == {
        "at": "2024-01-02T03:04:05.600Z",
        "day": "2024-01-02",
        "amount": 12.5,
        "uid": "12345678-1234-5678-1234-567812345678",
        "raw": "AAE=",
    }


def test_event_id_defaults_to_a_hash_of_the_record_position() -> None:
    """Without _id, an event gets sha256(topic/partition/offset)[:32], stable across replays."""
    entity = _entity(EVENT, {"email": "a@b.c", "ts": "2020-01-01T00:00:00Z"}, offset=42, topic="orders")
    expected = hashlib.sha256(b"orders/0/42").hexdigest()[:32]
    assert entity["_id"] == expected == default_event_id(record(42, topic="orders"))


def test_integer_id_becomes_a_string_and_event_id_expression_is_used() -> None:
    """_id is always a string; event_id is an expression for it."""
    value = {"email": "a@b.c", "ts": "2020-01-01T00:00:00Z", "n": 15367038}
    assert _entity(EVENT + "  _id: value.n\n", value)["_id"] == "15367038"
    assert _entity(EVENT + "event_id: concat('o-', value.n)\n", value)["_id"] == "o-15367038"


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2020-03-03T06:34:55Z", "2020-03-03T06:34:55Z"),
        ("2020-03-03T07:34:55+01:00", "2020-03-03T06:34:55Z"),
        ("2020-03-03T06:34:55.250Z", "2020-03-03T06:34:55.250Z"),
        ("2020-03-03 06:34:55", "2020-03-03T06:34:55Z"),
        (1583217295, "2020-03-03T06:34:55Z"),
        (1583217295123, "2020-03-03T06:34:55.123Z"),
        (datetime(2020, 3, 3, 6, 34, 55, tzinfo=UTC), "2020-03-03T06:34:55Z"),
    ],
)
def test_event_timestamp_is_normalised_to_rfc3339_utc(ts: Any, expected: str) -> None:
    """ISO text with offsets, epoch s/ms numbers and datetimes all become UTC 'Z' text."""
    assert _entity(EVENT, {"email": "a@b.c", "ts": ts})["timestamp"] == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"email": "a@b.c"}, "missing-timestamp"),
        ({"email": "a@b.c", "ts": ""}, "missing-timestamp"),
        ({"email": "a@b.c", "ts": "yesterday"}, "bad-timestamp"),
        ({"email": "a@b.c", "ts": "2099-01-01T00:00:00Z"}, "future-timestamp"),
        ({"ts": "2020-01-01T00:00:00Z"}, "missing-identity"),
        ({"email": "", "ts": "2020-01-01T00:00:00Z"}, "missing-identity"),
    ],
)
def test_unmappable_records_raise_mapping_error_with_reason(value: dict[str, Any], reason: str) -> None:
    """Missing/bad/future timestamps and a missing primary identity are MappingErrors with a reason code."""
    err = _error(EVENT, value)
    assert err.reason == reason
    assert err.target in ("timestamp", "identityMap.Email")
    assert err.expression in ("value.ts", "value.email")


def test_future_timestamp_is_clamped_to_now_when_configured() -> None:
    """future_timestamps: clamp replaces a future timestamp by the clock's now."""
    entity = _entity(EVENT + "future_timestamps: clamp\n", {"email": "a@b.c", "ts": "2099-01-01T00:00:00Z"})
    assert entity["timestamp"] == "2025-06-15T15:06:40Z"


def test_type_error_names_target_and_expression() -> None:
    """A failing function gives reason type-error with the target path and the expression."""
    err = _error(EVENT + "  _acme.n: to_int(value.n)\n", {"email": "a@b.c", "ts": "2020-01-01T00:00:00Z", "n": "x"})
    assert (err.reason, err.target, err.expression) == ("type-error", "_acme.n", "to_int(value.n)")
    assert "_acme.n" in str(err)


def test_required_field_missing_is_an_error() -> None:
    """{expr: ..., required: true} turns a missing value into a MappingError."""
    err = _error(EVENT + "  _acme.code: {expr: value.code, required: true}\n", {"email": "a@b.c", "ts": 1583217295})
    assert err.target == "_acme.code" and err.reason == "mapping-failed"


def test_identities_several_per_namespace_and_lists() -> None:
    """Identities of one namespace share a list; a list value gives one id per element."""
    spec = (
        BASE.replace("experienceevent", "profile").replace(
            "identities:\n",
            "identities:\n  - {namespace: ECID, value: value.ecids}\n  - {namespace: Email, value: value.alt}\n",
        )
        + "fields: {a: value.a}\n"
    )
    entity = _entity(spec, {"email": "P@x.y", "alt": "alt@x.y", "ecids": ["1", "", "2"], "a": 1})
    assert entity["identityMap"] == {
        "ECID": [
            {"id": "1", "authenticatedState": "ambiguous", "primary": False},
            {"id": "2", "authenticatedState": "ambiguous", "primary": False},
        ],
        "Email": [
            {"id": "alt@x.y", "authenticatedState": "ambiguous", "primary": False},
            {"id": "P@x.y", "authenticatedState": "ambiguous", "primary": True},
        ],
    }


def test_each_builds_arrays_of_objects_and_scalars() -> None:
    """each/as/fields maps a source list to objects; each/value maps it to scalars; outer names stay visible."""
    spec = (
        EVENT
        + """
  productListItems:
    each: value.lines
    as: line
    fields:
      SKU: line.sku
      quantity: to_int(line.qty)
      currencyCode: upper(value.cur)
  _acme.tags: {each: value.tags, as: t, value: upper(t)}
"""
    )
    value = {
        "email": "a@b.c",
        "ts": 1583217295,
        "cur": "eur",
        "lines": [{"sku": "A", "qty": "2"}, {"sku": ""}, {}],
        "tags": ["x", "", None, "y"],
    }
    entity = _entity(spec, value)
    assert entity["productListItems"] == [
        {"SKU": "A", "quantity": 2, "currencyCode": "EUR"},
        {"currencyCode": "EUR"},
        {"currencyCode": "EUR"},
    ]
    assert entity["_acme"] == {"tags": ["X", "Y"]}


def test_each_over_empty_or_single_object() -> None:
    """An empty list maps to nothing; a single object is treated as a one-element list."""
    spec = EVENT + "  _acme.items: {each: value.items, as: it, fields: {n: it.n}}\n"
    assert "_acme" not in _entity(spec, {"email": "a@b.c", "ts": 1583217295, "items": []})
    assert _entity(spec, {"email": "a@b.c", "ts": 1583217295, "items": {"n": 1}})["_acme"] == {"items": [{"n": 1}]}


def test_record_metadata_key_and_headers() -> None:
    """key (per key_format), headers.NAME, topic, partition, offset and timestamp are readable."""
    spec = (
        "key_format: json\n"
        + EVENT
        + """
  _acme:
    k: key.id
    h: headers['x-trace']
    where: concat(topic, '/', partition, '/', offset)
    kafkaTs: to_timestamp(timestamp)
"""
    )
    rec_kw: dict[str, Any] = {
        "key": b'{"id": 7}',
        "headers": (("x-trace", b"abc"), ("other", None)),
        "timestamp_ms": 1583217295000,
        "offset": 9,
        "topic": "t",
    }
    entity = _entity(spec, {"email": "a@b.c", "ts": 1583217295}, **rec_kw)
    assert entity["_acme"] == {"k": 7, "h": "abc", "where": "t/0/9", "kafkaTs": "2020-03-03T06:34:55Z"}


def test_decoded_key_can_be_passed_by_the_avro_decoder() -> None:
    """map(..., key=decoded) overrides decoding record.key."""
    m = compile_one(EVENT + "  _acme.k: key.id\n")
    env = m.map(record(key=b"not json"), {"email": "a@b.c", "ts": 1583217295}, key={"id": "K"})
    assert env["body"]["xdmEntity"]["_acme"] == {"k": "K"}


def test_undecodable_key_is_a_mapping_error() -> None:
    """A json key that is not JSON fails only the records that use it, as a MappingError."""
    m = compile_one("key_format: json\n" + EVENT + "  _acme.k: key.id\n")
    with pytest.raises(MappingError) as info:
        m.map(record(key=b"{oops"), {"email": "a@b.c", "ts": 1583217295})
    assert info.value.target == "_acme.k"


@pytest.mark.parametrize("value", [None, [], "text", 3, {"email": {"nested": 1}, "ts": 1583217295}])
def test_odd_values_raise_only_mapping_error(value: Any) -> None:
    """Non-object values or wrong shapes never raise anything but MappingError."""
    with pytest.raises(MappingError):
        compile_one(EVENT).map(record(), value)


def test_literal_strings_two_ways() -> None:
    """A quoted YAML string and {literal: ...} are both literals; bare numbers and booleans too."""
    spec = EVENT + "  _acme:\n    a: \"'Silver'\"\n    b: {literal: Gold}\n    c: 3\n    d: true\n"
    entity = _entity(spec, {"email": "a@b.c", "ts": 1583217295})
    assert entity["_acme"] == {"a": "Silver", "b": "Gold", "c": 3, "d": True}


def test_nested_each_sees_outer_loop_variables() -> None:
    """An each inside an each can read both loop variables and the record value."""
    spec = (
        EVENT
        + """
  _acme.orders:
    each: value.orders
    as: o
    fields:
      id: o.id
      lines:
        each: o.lines
        as: l
        fields:
          ref: concat(o.id, ':', l.sku, ':', value.type)
"""
    )
    orders = [{"id": "A", "lines": [{"sku": "x"}, {"sku": "y"}]}]
    value = {"email": "a@b.c", "ts": 1583217295, "type": "T", "orders": orders}
    assert _entity(spec, value)["_acme"]["orders"] == [{"id": "A", "lines": [{"ref": "A:x:T"}, {"ref": "A:y:T"}]}]
