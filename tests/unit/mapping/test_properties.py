"""Property: arbitrary JSON fed to the shipped mappings raises only MappingError and never emits empties."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.errors import MappingError
from connector.mapping import CompiledMapping
from connector.mapping.envelope import encode as encode_envelope
from tests.unit.mapping.helpers import SAMPLES, record, shipped

MAPPINGS = {name: shipped(name) for name in ("loyalty-events", "loyalty-profiles", "commerce-orders")}
KEYS = st.sampled_from(
    ["_id", "timestamp", "eventType", "_exchangeinternal", "loyaltyID", "orderId", "customer", "email", "ecid",
     "createdAtMs", "currency", "lines", "sku", "name", "qty", "unitPrice", "totals", "grandTotal", "tax",
     "payment", "method", "person", "personalEmail", "address", "primary", "x", ""]
) | st.text(max_size=8)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "2020-03-03T06:34:55Z", "1583217295000", "a@b.c", "credit_card", "2"])
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6), max_leaves=30
)


def _samples(name: str) -> list[Any]:
    data: list[Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _mutated() -> st.SearchStrategy[Any]:
    """A sample record with some of its values (at any depth) replaced by arbitrary JSON."""
    samples = {n: _samples(n) for n in MAPPINGS}

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        name = draw(st.sampled_from(sorted(samples)))
        value = json.loads(json.dumps(draw(st.sampled_from(samples[name]))))
        for _ in range(draw(st.integers(1, 4))):
            node = value
            while isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node)))
                if draw(st.booleans()) or not isinstance(node[key], dict):
                    node[key] = draw(JSON)
                    break
                node = node[key]
        return value

    return build()


def assert_no_empties(node: Any, path: str = "") -> None:
    assert node is not None, f"null at {path}"
    if isinstance(node, dict):
        assert node, f"empty object at {path}"
        for k, v in node.items():
            assert isinstance(k, str)
            assert_no_empties(v, f"{path}/{k}")
    elif isinstance(node, list):
        assert node, f"empty array at {path}"
        for i, v in enumerate(node):
            assert_no_empties(v, f"{path}/{i}")
    else:
        assert node != "", f"empty string at {path}"
        assert isinstance(node, str | int | float | bool), f"{type(node).__name__} at {path}"


def _check(mapping: CompiledMapping, value: Any) -> None:
    try:
        envelope = mapping.map(record(7, topic="t"), value)
    except MappingError as exc:
        # a wrapped KeyError/AttributeError/... would be a bug in the mapper, not bad data
        assert not isinstance(exc.__cause__, KeyError | AttributeError | IndexError | TypeError | NameError), exc
        return
    assert_no_empties(envelope)
    entity = envelope["body"]["xdmEntity"]
    assert any(item["primary"] for items in entity["identityMap"].values() for item in items)
    if mapping.xdm_class == "experienceevent":
        assert isinstance(entity["_id"], str) and entity["timestamp"].endswith("Z")
    encode_envelope(envelope)  # the bytes the worker sends: never raises for a mapped envelope


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON)
def test_arbitrary_json_raises_only_mapping_error_and_emits_no_empties(value: Any) -> None:
    """Any JSON value: each mapping returns an envelope without null/empty parts, or raises MappingError."""
    for mapping in MAPPINGS.values():
        _check(mapping, value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_mutated())
def test_mutated_samples_raise_only_mapping_error_and_emit_no_empties(value: Any) -> None:
    """Sample records with parts replaced by arbitrary JSON: same guarantee, deeper in the mappings."""
    for mapping in MAPPINGS.values():
        _check(mapping, value)
