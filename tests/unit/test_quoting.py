"""Values quoted in messages are shortened (one helper): schema violations, timestamps, function errors."""

from __future__ import annotations

from datetime import UTC

import pytest

from connector.errors import MappingError
from connector.mapping.timestamps import BadTimestamp, parse_text
from connector.quoting import QUOTE_LIMIT, quote, shorten
from tests.unit.mapping.helpers import compile_one, record

HUGE = "x" * 1_100_000


def test_short_values_are_quoted_whole() -> None:
    """Up to the limit, quote is repr and shorten is the identity."""
    assert quote("2024-01-01") == "'2024-01-01'"
    assert quote({"a": 1}) == "{'a': 1}"
    assert shorten("abc") == "abc"


def test_long_values_keep_head_and_tail_and_say_how_much_is_left_out() -> None:
    """A 1.1 MB string becomes head ...[N chars]... tail, N exact; bytes say bytes."""
    text = quote("a" + HUGE + "z")
    assert text.startswith("'axxx") and text.endswith("xxz'")
    head, tail = text.split("...[")[0], text.split("]...")[1]
    omitted = int(text.split("...[")[1].split(" chars]")[0])
    assert omitted + len(head) - 2 + len(tail) - 2 == len(HUGE) + 2
    assert len(text) < 2 * QUOTE_LIMIT
    assert "bytes]" in quote(b"\x00" * 1000)
    assert len(shorten("y" * 10_000, 100)) <= 100 + 20


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "string", "format": "date-time"}, "is not a valid date-time"),
        ({"type": "string", "pattern": "^[0-9]+$"}, "does not match the pattern"),
        ({"type": "string", "enum": ["a", "b"]}, "is not one of"),
    ],
)
def test_schema_violation_messages_do_not_echo_a_huge_value(schema: dict[str, object], needle: str) -> None:
    """A 1.1 MB value breaking format/pattern/enum: the violation is one short line."""
    from connector.xdm.prepare import prepare
    from connector.xdm.validator import XdmValidator

    validator = XdmValidator(prepare({"$id": "s", "type": "object", "properties": {"v": schema}}))
    (violation,) = validator.violations({"v": HUGE})
    assert needle in violation.message and len(violation.message) < 300


def test_timestamp_messages_do_not_echo_a_huge_value() -> None:
    """A 1.1 MB text that is no timestamp: BadTimestamp says so in a short message."""
    with pytest.raises(BadTimestamp) as caught:
        parse_text(HUGE, None, UTC)
    assert len(str(caught.value)) < 300


def test_mapping_error_of_a_huge_value_is_short() -> None:
    """to_timestamp(value.when) over a 1.1 MB string: the MappingError (dead-letter message) stays short."""
    mapping = compile_one(
        {"name": "t", "topics": ["t"], "xdm_class": "profile", "schema_id": "s", "dataset_id": "d",
         "allow_no_identity": True, "fields": {"when": "to_timestamp(value.when)", "n": "to_int(value.n)"}}
    )  # fmt: skip
    for value in ({"when": HUGE}, {"n": HUGE}):
        with pytest.raises(MappingError) as caught:
            mapping.map(record(), value)
        assert len(caught.value.message) < 400, caught.value.message[:500]
