"""`check`: compile_mappings reports every problem of every mapping, with name, origin and key path."""

from __future__ import annotations

from tests.unit.mapping.helpers import inline

FIVE_MISTAKES = """
name: broken
topics: [orders]
xdm_class: experienceevent
schema_id: https://ns.adobe.com/acme/schemas/1
dataset_id: ds1
tenant: acme
fields:
  eventType: lowr(value.type)
  _acme.total: value.totals..grand
  _other.flag: value.flag
"""


def test_five_mistakes_are_all_reported() -> None:
    """Unknown function, malformed path, missing identity, no timestamp, field outside tenant: all five."""
    compiled, problems = inline(FIVE_MISTAKES, name="broken")
    assert compiled == []
    text = "\n".join(problems)
    assert len(problems) == 5, text
    assert all(p.startswith("mapping broken (<test>): ") for p in problems)
    assert "fields.eventType: unknown function lowr()" in text
    assert "fields._acme.total: malformed expression" in text
    assert "identities: missing identity" in text
    assert "fields.timestamp: an experienceevent mapping must map timestamp" in text
    assert "fields._other.flag: custom field _other is outside the tenant namespace _acme" in text


def test_structural_problems_are_collected() -> None:
    """Unknown keys, missing ids, bad choices, two primaries, arity and literal-argument errors."""
    _, problems = inline(
        """
name: x
topic: [a]
xdm_class: profile
format: protobuf
future_timestamps: maybe
identities:
  - {namespace: Email, value: value.a, primary: true}
  - {namespace: ECID, value: value.b, primary: true, authenticated_state: sometimes}
fields:
  a: trim()
  b: regex_extract(value.x, '(unclosed')
  c: to_timestamp(value.t, 'iso', 'Mars/Olympus')
  d: lookup(value.code, 'nope')
  e: regex_extract(value.x, value.pattern)
  f: foo.bar
  g: [1, 2]
  h: {each: value.items, as: value, fields: {x: value.y}}
"""
    )
    text = "\n".join(problems)
    for expected in (
        "topic: unknown key",
        "topics: is required",
        "schema_id: is required",
        "dataset_id: is required",
        "format: must be one of",
        "future_timestamps: must be one of",
        "authenticated_state: must be one of",
        "exactly one identity must be primary",
        "fields.a: trim() takes 1 argument, got 0",
        "fields.b: regex_extract(): invalid regex",
        "fields.c: to_timestamp(): unknown time zone 'Mars/Olympus'",
        "fields.d: lookup(): unknown lookup table 'nope'",
        "fields.e: argument 2 of regex_extract() must be a literal",
        "fields.f: unknown name 'foo'",
        "fields.g: a list is not an expression",
        "fields.h.as: must be a simple name",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_conflicting_targets_and_double_id_are_problems() -> None:
    """A target mapped twice, a value under a value, and _id given twice are reported."""
    _, problems = inline(
        """
topics: [a]
xdm_class: experienceevent
schema_id: s
dataset_id: d
event_id: value.id
allow_no_identity: true
fields:
  timestamp: value.ts
  _id: value.id
  person.name: value.name
  person.name.first: value.first
  person:
    name: value.other
"""
    )
    text = "\n".join(problems)
    assert "event_id: give event_id or fields._id, not both" in text
    assert "person.name is already mapped to a value" in text
    assert "person.name is mapped more than once" in text


def test_allow_no_identity_silences_the_missing_identity_problem() -> None:
    """`allow_no_identity: true` lets a mapping build no identityMap."""
    compiled, problems = inline(
        """
topics: [a]
xdm_class: profile
schema_id: s
dataset_id: d
allow_no_identity: true
fields: {person.name.firstName: value.first}
"""
    )
    assert problems == []
    assert compiled[0].xdm_class == "profile"


def test_identity_map_in_fields_and_custom_field_without_tenant() -> None:
    """identityMap comes only from identities:, and _custom fields need a tenant."""
    _, problems = inline(
        """
topics: [a]
xdm_class: profile
schema_id: s
dataset_id: d
identities: [{namespace: Email, value: value.e, primary: true}]
fields:
  identityMap: value.ids
  _acme.x: value.x
"""
    )
    text = "\n".join(problems)
    assert "identityMap is built from identities:" in text
    assert "custom field _acme needs tenant:" in text


def test_avro_plain_needs_a_schema_file() -> None:
    """format avro-plain without avro_schema, or with a missing file, is a problem."""
    _, problems = inline(
        """
topics: [a]
format: avro-plain
avro_schema: does/not/exist.avsc
xdm_class: profile
schema_id: s
dataset_id: d
allow_no_identity: true
fields: {a: value.a}
"""
    )
    assert any("avro_schema: file not found" in p for p in problems)
