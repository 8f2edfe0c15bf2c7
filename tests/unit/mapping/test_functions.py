"""The function library, evaluated through compiled mappings (so arity and literal checks apply)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
import yaml

from connector.errors import MappingError
from connector.mapping.functions import describe
from tests.unit.mapping.helpers import compile_one, record

SPEC = """
topics: [t]
xdm_class: profile
schema_id: s
dataset_id: d
allow_no_identity: true
lookups:
  levels: {1: Silver, 2: Gold, "3": Platinum}
"""


def ev(expr: str, value: Any = None) -> Any:
    """The value `expr` maps to (None when it is left out)."""
    spec = yaml.safe_load(SPEC)
    spec["fields"] = {"out": expr}
    m = compile_one(spec)
    return m.map(record(), value if value is not None else {})["body"]["xdmEntity"].get("out")


@pytest.mark.parametrize(
    ("expr", "value", "expected"),
    [
        ("lower(trim(value.e))", {"e": "  A@B.C "}, "a@b.c"),
        ("upper(value.e)", {"e": "abc"}, "ABC"),
        ("concat(value.a, '-', value.b, value.missing)", {"a": "x", "b": 2}, "x-2"),
        ("coalesce(value.a, value.b, 'z')", {"a": "", "b": None}, "z"),
        ("default(value.a, 'd')", {}, "d"),
        ("if(eq(value.a, 1), 'one', 'other')", {"a": 1}, "one"),
        ("if(gt(value.a, 5), 'big', 'small')", {"a": 3}, "small"),
        ("if(not(is_empty(value.a)), 'set')", {"a": [1]}, "set"),
        ("and(value.a, or(value.b, true))", {"a": 1}, True),
        ("to_string(value.a)", {"a": 1.0}, "1"),
        ("to_string(value.a)", {"a": True}, "true"),
        ("to_int(value.a)", {"a": "42"}, 42),
        ("to_int(value.a)", {"a": 4.9}, 4),
        ("to_float(value.a)", {"a": "2.5"}, 2.5),
        ("to_bool(value.a)", {"a": "Yes"}, True),
        ("to_bool(value.a)", {"a": 0}, False),
        ("sha256(value.a)", {"a": "x"}, hashlib.sha256(b"x").hexdigest()),
        ("sha256_email(value.a)", {"a": " Jane.Doe@Example.COM "}, hashlib.sha256(b"jane.doe@example.com").hexdigest()),
        ("md5(value.a)", {"a": "x"}, hashlib.md5(b"x", usedforsecurity=False).hexdigest()),
        ("to_timestamp(value.a)", {"a": "2020-03-03T07:34:55+01:00"}, "2020-03-03T06:34:55Z"),
        ("to_timestamp(value.a, '%d/%m/%Y %H:%M')", {"a": "03/03/2020 06:34"}, "2020-03-03T06:34:00Z"),
        ("to_timestamp(value.a, null, 'Europe/Paris')", {"a": "2020-03-03T07:34:55"}, "2020-03-03T06:34:55Z"),
        ("to_timestamp(value.a, 'epoch_s')", {"a": 0}, "1970-01-01T00:00:00Z"),
        ("epoch_ms(value.a)", {"a": 1583217295123}, "2020-03-03T06:34:55.123Z"),
        ("epoch_us(value.a)", {"a": 1583217295123456}, "2020-03-03T06:34:55.123456Z"),
        ("epoch_s(value.a)", {"a": "1583217295"}, "2020-03-03T06:34:55Z"),
        ("to_date(value.a)", {"a": "2020-03-03T23:30:00Z"}, "2020-03-03"),
        ("to_date(value.a, null, 'Europe/Paris')", {"a": "2020-03-03T23:30:00Z"}, "2020-03-04"),
        ("split(value.a, ',')", {"a": "a,b,,c"}, ["a", "b", "c"]),
        ("join(value.a, '|')", {"a": ["a", None, 1]}, "a|1"),
        ("regex_extract(value.a, '(\\d+)-(\\d+)', 2)", {"a": "x 12-34"}, "34"),
        ("regex_extract(value.a, '[a-z]+')", {"a": "12abc"}, "abc"),
        ("regex_extract(value.a, '(?P<n>\\d+)', 'n')", {"a": "v7"}, "7"),
        ("regex_replace(value.a, '\\s+', ' ')", {"a": "a  b\tc"}, "a b c"),
        ("replace(value.a, '-', '')", {"a": "1-2-3"}, "123"),
        ("lookup(value.a, 'levels')", {"a": 1}, "Silver"),
        ("lookup(value.a, 'levels')", {"a": "2"}, "Gold"),
        ("lookup(value.a, 'levels', 'Bronze')", {"a": 9}, "Bronze"),
        ("substring(value.a, 0, 3)", {"a": "abcdef"}, "abc"),
        ("substring(value.a, -2)", {"a": "abcdef"}, "ef"),
        ("round(value.a, 2)", {"a": 1.005}, 1.01),
        ("round(value.a)", {"a": 2.5}, 3),
        ("round(mul(value.q, value.p), 2)", {"q": 3, "p": 19.99}, 59.97),
        ("add(value.a, 1)", {"a": "2"}, 3),
        ("div(value.a, 4)", {"a": 1}, 0.25),
        ("sum(value.a)", {"a": [1, "2", None, 3.5]}, 6.5),
        ("abs(value.a)", {"a": -3}, 3),
        ("len(value.a)", {"a": [1, 2]}, 2),
        ("base64_encode(value.a)", {"a": "hi"}, "aGk="),
        ("base64_decode(value.a)", {"a": "aGk="}, "hi"),
        ("contains(value.a, 'b')", {"a": "abc"}, True),
        ("starts_with(value.a, 'a')", {"a": "abc"}, True),
        ("hash_id(value.a, value.b)", {"a": "x", "b": 1}, hashlib.sha256(b"x\x1f1").hexdigest()),
        ("now()", {}, "2025-06-15T15:06:40Z"),
        ("now", {}, "2025-06-15T15:06:40Z"),
    ],
)
def test_function_results(expr: str, value: Any, expected: Any) -> None:
    """Each function computes the documented result."""
    assert ev(expr, value) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "lower(value.x)",
        "to_int(value.x)",
        "to_timestamp(value.x)",
        "sha256_email(value.x)",
        "lookup(value.x, 'levels')",
    ],
)
def test_missing_inputs_give_missing_outputs(expr: str) -> None:
    """A missing argument propagates as a missing (left out) value, not an error."""
    assert ev(expr, {}) is None


def test_uuids() -> None:
    """deterministic_uuid is stable for the same inputs; uuid4 is random."""
    a, b = ev("deterministic_uuid(value.a, 1)", {"a": "x"}), ev("uuid5(value.a, 1)", {"a": "x"})
    assert a == b and uuid.UUID(a).version == 5
    assert uuid.UUID(ev("uuid4()")).version == 4


@pytest.mark.parametrize(
    ("expr", "value", "reason"),
    [
        ("to_int(value.a)", {"a": "abc"}, "type-error"),
        ("to_bool(value.a)", {"a": "perhaps"}, "type-error"),
        ("lower(value.a)", {"a": {"x": 1}}, "type-error"),
        ("to_timestamp(value.a)", {"a": "not a date"}, "bad-timestamp"),
        ("div(value.a, 0)", {"a": 1}, "type-error"),
        ("base64_decode(value.a)", {"a": "***"}, "type-error"),
    ],
)
def test_bad_inputs_are_mapping_errors(expr: str, value: Any, reason: str) -> None:
    """Wrong types raise MappingError with a reason code and the target path."""
    with pytest.raises(MappingError) as info:
        ev(expr, value)
    assert info.value.reason == reason
    assert info.value.target == "out"


def test_describe_lists_every_function() -> None:
    """describe() gives one signature line per function (for docs)."""
    lines = describe()
    assert any(line.startswith("to_timestamp(") for line in lines)
    assert len(lines) >= 50
