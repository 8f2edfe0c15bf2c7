"""ValidatingMapper: strict dead-letters `xdm-invalid`, warn sends and logs aggregated, the inner mapper untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from connector.errors import MappingError, RecordError, SchemaViolation
from connector.mapping.envelope import encode
from connector.records import Route, SourceRecord
from connector.xdm.cache import DiskCache
from connector.xdm.mapper import ValidatingMapper
from connector.xdm.ref import SchemaRef
from connector.xdm.schemas import LiveSchema, Timing
from tests.fakes import FakeClock
from tests.unit.xdm.helpers import FakeRegistry, acme_event, event_schema

SID = "https://ns.adobe.com/acme/schemas/t"
V1 = event_schema({"n": {"type": "integer"}}, version="1.0")
RECORD = SourceRecord("t", 0, 7, b"k", b"{}")


class EntityMapper:
    """A Mapper returning an envelope around whatever entity it is given as the value."""

    name = "m"
    route = Route("https://dcs.example/collection/x")

    def __init__(self) -> None:
        self.keys: list[Any] = []

    def map(self, record: SourceRecord, value: Any, key: Any = None) -> dict[str, Any]:
        self.keys.append(key)
        if isinstance(value, Exception):
            raise value
        return {"header": {}, "body": {"xdmMeta": {}, "xdmEntity": value}}

    def map_bytes(self, record: SourceRecord, value: Any, key: Any = None) -> bytes:
        return encode(self.map(record, value, key))


def schema(tmp_path: Path, clock: FakeClock, registry: FakeRegistry | None = None) -> LiveSchema:
    live = LiveSchema(
        SchemaRef("id", SID),
        registry or FakeRegistry({SID: V1}),
        DiskCache(tmp_path, org="o", sandbox="prod"),
        clock,
        Timing(300.0, 60.0),
    )
    live.load()
    return live


def test_strict_valid_record_passes_unchanged(tmp_path: Path) -> None:
    """A valid entity's envelope is returned as the inner mapper made it."""
    inner = EntityMapper()
    m = ValidatingMapper(inner, schema(tmp_path, FakeClock()), "strict")
    entity = acme_event(n=1)
    assert m.map(RECORD, entity)["body"]["xdmEntity"] is entity
    assert (m.name, m.route) == (inner.name, inner.route)


def test_strict_violation_is_a_record_error_with_pointer_rule_and_schema_version(tmp_path: Path) -> None:
    """A violation raises SchemaViolation: reason xdm-invalid, stage validate, pointer/rule/$id/version."""
    m = ValidatingMapper(EntityMapper(), schema(tmp_path, FakeClock()), "strict")
    with pytest.raises(SchemaViolation) as info:
        m.map(RECORD, acme_event(n="seven", extra=True))
    err = info.value
    assert isinstance(err, MappingError) and isinstance(err, RecordError)
    assert (err.reason, err.stage, err.target) == ("xdm-invalid", "validate", "/_acme/n")
    assert (err.schema_id, err.schema_version) == (SID, "1.0")
    assert err.message == (
        f"2 XDM violation(s) of schema {SID} version 1.0: "
        '/_acme/n: type: expected integer, found string "seven"; '
        "/_acme/extra: additionalProperties: field [extra] is not in the schema"
    )


def test_mapping_errors_of_the_inner_mapper_pass_through(tmp_path: Path) -> None:
    """The inner mapper's own MappingError is not masked by validation."""
    m = ValidatingMapper(EntityMapper(), schema(tmp_path, FakeClock()), "strict")
    with pytest.raises(MappingError) as info:
        m.map(RECORD, MappingError("timestamp: missing", reason="missing-timestamp"))
    assert info.value.reason == "missing-timestamp"


def test_the_decoded_key_is_passed_on_only_when_given(tmp_path: Path) -> None:
    """map(record, value) and map(record, value, key=k) reach the inner mapper the same way."""
    inner = EntityMapper()
    m = ValidatingMapper(inner, schema(tmp_path, FakeClock()), "strict")
    m.map(RECORD, acme_event())
    m.map(RECORD, acme_event(), key={"id": 1})
    assert inner.keys == [None, {"id": 1}]


def test_warn_sends_invalid_records_and_logs_aggregated_lines(tmp_path: Path) -> None:
    """warn: 1,000 invalid records are all returned; the log has one line per minute, not one per record."""
    clock = FakeClock()
    m = ValidatingMapper(EntityMapper(), schema(tmp_path, clock), "warn", clock.monotonic)
    with capture_logs() as logs:
        for i in range(1000):
            assert m.map(RECORD, acme_event(n=str(i)))["body"]["xdmEntity"]["_acme"]["n"] == str(i)
            clock.sleep(0.1)  # 100 s in all
        m.close()
    lines = [e for e in logs if e["event"] == "xdm_invalid_sent"]
    assert len(lines) == 3  # the first at once, one after 60 s, the rest at close
    assert lines[0]["records"] == 1 and "/_acme/n: type" in lines[0]["example"]
    assert sum(e["records"] for e in lines) == 1000
    assert lines[1]["top"] == [f"/_acme/n type x{lines[1]['records']}"]


def test_a_failing_record_triggers_a_recheck_that_can_rescue_it(tmp_path: Path) -> None:
    """A field added in AEP since the last fetch: the record is revalidated against the new version."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1})
    m = ValidatingMapper(EntityMapper(), schema(tmp_path, clock, registry), "strict")
    registry.docs[SID] = event_schema({"n": {"type": "integer"}, "added": {"type": "string"}}, version="1.1")
    with pytest.raises(SchemaViolation, match=r"version 1\.0"):
        m.map(RECORD, acme_event(added="x"))  # fetched just now: no recheck yet
    clock.sleep(61)
    assert m.map(RECORD, acme_event(added="x"))["body"]["xdmEntity"]["_acme"] == {"added": "x"}
    with pytest.raises(SchemaViolation, match=r"version 1\.1"):
        m.map(RECORD, acme_event(n="x"))


def test_warn_mode_without_a_schema_yet_passes_records_through(tmp_path: Path) -> None:
    """warn with AEP unreachable at start and nothing cached: records go unvalidated until the schema arrives."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1})
    registry.down = True
    live = LiveSchema(SchemaRef("id", SID), registry, DiskCache(tmp_path, org="o", sandbox="p"), clock, Timing())
    m = ValidatingMapper(EntityMapper(), live, "warn")
    assert m.map(RECORD, acme_event(n="x"))
    registry.down = False
    assert live.refresh() is True
    with capture_logs() as logs:
        m.map(RECORD, acme_event(n="x"))
    assert [e["event"] for e in logs] == ["xdm_invalid_sent"]


def test_mode_must_be_strict_or_warn(tmp_path: Path) -> None:
    """off is never wrapped; anything else is a programming error."""
    with pytest.raises(ValueError, match="strict or warn"):
        ValidatingMapper(EntityMapper(), schema(tmp_path, FakeClock()), "off")
