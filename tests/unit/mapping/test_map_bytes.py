"""`map_bytes` (what the worker sends) is `encode(map(...))` byte for byte, errors included.

The generated `payload` writes the envelope's constant parts once at compile time and per record
only the origin and the entity; these tests hold it to the general way over the shipped samples,
generated values (Decimals, integers past 64 bits, escapes in topic names and text) and every
envelope shape the settings allow.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config import AepSettings, MappingSource
from connector.errors import MappingError
from connector.mapping import CompiledMapping, compile_mappings
from connector.mapping.codegen import envelope_bytes_source
from connector.mapping.envelope import EdgeEvent, Envelope, encode, encode_or_fail
from connector.records import SourceRecord
from connector.serde.json import loads_exact
from connector.worker import map_envelope, map_record
from tests.unit.mapping.helpers import BASE, REPO, SAMPLES, clock, record, shipped

SHIPPED = [
    ("loyalty-events", "loyalty-events"),
    ("loyalty-events-edge", "loyalty-events"),
    ("loyalty-profiles", "loyalty-profiles"),
    ("commerce-orders", "commerce-orders"),
]


def _both(mapping: CompiledMapping, rec: SourceRecord, value: Any) -> tuple[Any, Any]:
    """(map_bytes, encode(map)) or, for each, the MappingError's (reason, message)."""
    out: list[Any] = []
    for way in (mapping.map_bytes, lambda r, v: encode(mapping.map(r, v))):
        try:
            out.append(way(rec, value))
        except MappingError as exc:
            out.append((exc.reason, exc.message))
    return out[0], out[1]


@pytest.mark.parametrize(("name", "samples"), SHIPPED)
def test_shipped_samples_give_the_same_bytes(name: str, samples: str) -> None:
    mapping = shipped(name)
    values = json.loads((SAMPLES / f"{samples}.json").read_text(encoding="utf-8"))
    sent = 0
    for i, value in enumerate(values):
        rec = record(i, topic=name, key=f"key-{i}".encode(), timestamp_ms=1_700_000_000_000 + i)
        fast, general = _both(mapping, rec, value)
        assert fast == general, f"{name} sample {i}"
        sent += isinstance(fast, bytes)
    assert sent > len(values) // 2, "most samples map (else the comparison shows little)"


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=None)
    | st.text(max_size=12)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
_TOPICS = st.text(min_size=1, max_size=20)
_HEADERS = st.tuples(st.none() | st.just("ORG@AdobeOrg"), st.none() | st.text(min_size=1, max_size=8))


def _mapping(source_name: str | None, header: tuple[str | None, str | None], edge: bool) -> CompiledMapping:
    spec = yaml.safe_load(BASE if edge else BASE.replace("experienceevent", "profile"))
    spec["fields"] = {"obj": "value.obj", "n": "value.n", "lit": {"literal": {"k": [1.5, "\\u0000"]}}}
    if source_name is not None:
        spec["source_name"] = source_name
    if edge:
        spec.update(destination="edge", datastream_id="00000000-0000-0000-0000-000000000000")
        spec["fields"]["timestamp"] = "value.timestamp"
    ims_org, flow_id = header
    aep = AepSettings(inlet_url="https://dcs.example/collection/x", ims_org=ims_org, flow_id=flow_id)
    compiled, problems = compile_mappings([MappingSource("t", spec, "<test>", REPO)], aep, clock=clock)
    assert problems == []
    return compiled[0]


@settings(max_examples=300, deadline=None)
@given(
    value=st.fixed_dictionaries({"email": st.just("a@b.c"), "obj": _VALUES, "n": _VALUES}),
    topic=_TOPICS,
    offset=st.integers(min_value=0, max_value=2**63 - 1),
    source_name=st.none() | st.text(min_size=1, max_size=10).filter(str.strip),
    header=_HEADERS,
)
def test_generated_values_give_the_same_bytes(
    value: dict[str, Any], topic: str, offset: int, source_name: str | None, header: tuple[str | None, str | None]
) -> None:
    mapping = _mapping(source_name, header, edge=False)
    rec = SourceRecord(topic, 3, offset, None, b"")
    fast, general = _both(mapping, rec, value)
    assert fast == general
    if isinstance(fast, bytes):
        assert loads_exact(fast)["header"]["msgId"] == f"{topic}/3/{offset}"


def test_an_edge_event_gives_the_same_bytes() -> None:
    mapping = _mapping(None, (None, None), edge=True)
    value = {"email": "a@b.c", "obj": {"x": Decimal("0.10"), "big": 2**70}, "n": 1, "timestamp": "2025-01-02T03:04:05Z"}
    fast, general = _both(mapping, record(1), value)
    assert fast == general
    assert isinstance(fast, bytes)
    assert fast.startswith(b'{"xdm":{"_id":') and b'"obj":{"x":0.10,"big":1180591620717411303424}' in fast


def test_the_constant_parts_are_written_at_compile_time() -> None:
    """The DCS envelope is a template: `payload` dumps only the origin and the entity per record."""
    source = shipped("loyalty-events").source
    payload = source[source.index("def payload") :]
    assert "_dumps(_o0, default=_json_default)" in payload
    assert "b'{\"header\":{\"schemaRef\"" in payload


def test_no_template_no_bytes_template() -> None:
    """A wrap that is not a pure template, or that repeats the entity, gets no bytes template."""
    calls: list[int] = []

    def counting(entity: dict[str, object], origin: str) -> dict[str, object]:
        calls.append(1)
        return {"n": len(calls), "e": entity}

    assert envelope_bytes_source(counting, "_o0") is None
    assert envelope_bytes_source(lambda e, o: {"a": e, "b": e}, "_o0") is None
    assert envelope_bytes_source(EdgeEvent().wrap, "_o0") is not None
    assert envelope_bytes_source(Envelope(schema_id="s", schema_version="1", dataset_id="d").wrap, "_o0") is not None


def test_a_value_with_no_json_form_is_a_mapping_error() -> None:
    """`clean` gives every mapped value a JSON form; one that has none still (here a set added to the
    envelope afterwards) is the record's mapping-failed MappingError, not an exception that escapes."""
    mapping = _mapping(None, (None, None), edge=False)
    value = {"email": "a@b.c", "obj": {"x": 1}, "n": 1}
    envelope = mapping.map(record(1), value)
    envelope["body"]["xdmEntity"]["odd"] = {1, 2}
    with pytest.raises(MappingError) as exc:
        encode_or_fail(envelope)
    assert exc.value.reason == "mapping-failed"
    assert "TypeError" in exc.value.message


def test_worker_and_preview_paths_send_the_same_bytes() -> None:
    mapping = shipped("loyalty-events")
    value = json.loads((SAMPLES / "loyalty-events.json").read_text(encoding="utf-8"))[0]
    rec = record(5, topic="loyalty-events", timestamp_ms=1_700_000_000_000)
    envelope, shown = map_envelope(mapping, rec, value)
    assert map_record(mapping, rec, value) == shown == encode(envelope)
