"""Loading every mapping's schema at start: what starts, what fails (and how), what is only noted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from connector.app import compile_plan
from connector.config import Settings, parse_settings
from connector.errors import ConfigError, FatalError, SchemaViolation
from connector.mapping import compile_mappings
from connector.records import SourceRecord
from connector.xdm.mapper import ValidatingMapper
from connector.xdm.service import load_schemas
from tests.fakes import FakeClock
from tests.unit.xdm.helpers import LOYALTY_ID, LOYALTY_SCHEMA, LOYALTY_SCHEMA_FILE, REPO, FakeRegistry

MAPPING = REPO / "config" / "mappings" / "loyalty-events.yaml"
DATASET = "5e30d7986c0cc218a85cee65"  # the dataset_id of loyalty-events.yaml


def settings(
    tmp_path: Path, *, xdm: dict[str, Any] | None = None, aep: dict[str, Any] | None = None, **mapping: Any
) -> Settings:
    raw = {
        "kafka": {"bootstrap_servers": "localhost:9092", "topics": ["loyalty-events"]},
        "aep": {
            "inlet_url": "https://dcs.adobedc.net/collection/abc",
            "ims_org": "ORG@AdobeOrg",
            "auth": {"client_id": "c", "client_secret": "s"},
            **(aep or {}),
        },
        "dead_letter": {"topic": "dlq"},
        "xdm": {"cache_dir": str(tmp_path / "cache"), "startup_timeout_s": 30, **(xdm or {})},
        "mappings": [{"file": str(MAPPING), **mapping}],
    }
    parsed, problems = parse_settings(raw, {}, tmp_path)
    assert problems == []
    return parsed


def load(s: Settings, registry: FakeRegistry, clock: FakeClock | None = None, wait: bool = True) -> Any:
    compiled, problems = compile_mappings(s.mappings, s.aep)
    assert problems == []
    service, found = load_schemas(
        s, [m.parsed for m in compiled], clock=clock or FakeClock(), source=registry, wait=wait
    )
    return compiled[0], service, found


def invalid_value() -> dict[str, Any]:
    value: dict[str, Any] = json.loads((REPO / "connector" / "samples" / "loyalty-events.json").read_bytes())[0]
    value["_exchangeinternal"]["loyaltyLevel"] = "Bronze"
    return value


def test_strict_schema_from_aep_wraps_the_mapper(tmp_path: Path) -> None:
    """schema: $id, reachable AEP: the mapper is wrapped and dead-letters an invalid record."""
    mapping, service, found = load(settings(tmp_path, schema=LOYALTY_ID), FakeRegistry({LOYALTY_ID: LOYALTY_SCHEMA}))
    assert (found.problems, found.unavailable, found.notes) == ([], [], [])
    wrapped = service.wrap(mapping)
    assert isinstance(wrapped, ValidatingMapper) and wrapped.mode == "strict"
    with pytest.raises(SchemaViolation, match="/_exchangeinternal/loyaltyLevel: enum"):
        wrapped.map(SourceRecord("loyalty-events", 0, 0, b"k", b""), invalid_value())


def test_strict_with_aep_down_and_no_cache_retries_then_stops_the_start(tmp_path: Path) -> None:
    """No schema to be had: retried for startup_timeout_s, then `unavailable` explains what to do."""
    registry = FakeRegistry({LOYALTY_ID: LOYALTY_SCHEMA})
    registry.down = True
    clock = FakeClock()
    start = clock.monotonic()
    _, _, found = load(settings(tmp_path, schema=LOYALTY_ID), registry, clock)
    assert found.problems == []
    assert len(found.unavailable) == 1
    assert "AEP is unreachable" in found.unavailable[0] and "validate: strict" in found.unavailable[0]
    assert "aep-connector schema pull" in found.unavailable[0]
    assert registry.schema_calls > 3
    assert 20 <= clock.monotonic() - start <= 30


def test_warn_with_aep_down_and_no_cache_starts_unvalidated(tmp_path: Path) -> None:
    """validate: warn starts without its schema (noted) and validates once a refresh fetches it."""
    registry = FakeRegistry({LOYALTY_ID: LOYALTY_SCHEMA})
    registry.down = True
    mapping, service, found = load(settings(tmp_path, schema=LOYALTY_ID, validate="warn"), registry)
    assert found.problems == [] and found.unavailable == []
    assert "records are sent unvalidated" in found.notes[0]
    wrapped = service.wrap(mapping)
    assert isinstance(wrapped, ValidatingMapper)
    assert wrapped.schema.current is None
    registry.down = False
    assert wrapped.schema.refresh() and wrapped.schema.current is not None


def test_aep_down_with_a_cache_starts_from_the_cache(tmp_path: Path) -> None:
    """A cached copy from an earlier start is used when AEP is unreachable; the start is noted, not failed."""
    s = settings(tmp_path, schema=LOYALTY_ID)
    load(s, FakeRegistry({LOYALTY_ID: LOYALTY_SCHEMA}))
    down = FakeRegistry()
    down.down = True
    mapping, service, found = load(s, down)
    assert found.problems == [] and found.unavailable == []
    assert "using the cached copy" in found.notes[0]
    assert isinstance(service.wrap(mapping), ValidatingMapper)


def test_from_dataset_must_be_the_envelopes_schema(tmp_path: Path) -> None:
    """from-dataset naming a dataset bound to another schema than schema_id is a config problem."""
    other = {**LOYALTY_SCHEMA, "$id": "https://ns.adobe.com/exchangeinternal/schemas/other"}
    registry = FakeRegistry({other["$id"]: other}, datasets={DATASET: other["$id"]})
    mapping, service, found = load(settings(tmp_path, schema="from-dataset"), registry)
    assert len(found.problems) == 1
    assert f"schema_id: {LOYALTY_ID}, but the schema of dataset {DATASET} is {other['$id']}" in found.problems[0]
    assert service.wrap(mapping) is mapping


def test_from_dataset_validates_against_the_datasets_schema(tmp_path: Path) -> None:
    """from-dataset: Catalog's schemaRef.id names the schema that is fetched and used."""
    registry = FakeRegistry({LOYALTY_ID: LOYALTY_SCHEMA}, datasets={DATASET: LOYALTY_ID})
    mapping, service, found = load(settings(tmp_path, schema="from-dataset"), registry)
    assert found.problems == []
    assert isinstance(service.wrap(mapping), ValidatingMapper)


def test_mapped_fields_class_and_tenant_are_checked_against_the_schema(tmp_path: Path) -> None:
    """A mapped field the schema lacks, the wrong class or tenant: problems in strict, notes in warn."""
    doc = json.loads(json.dumps(LOYALTY_SCHEMA))
    del doc["properties"]["_exchangeinternal"]["properties"]["loyaltyLevel"]
    doc["meta:class"] = "https://ns.adobe.com/xdm/context/profile"
    doc["meta:tenantNamespace"] = "_other"
    registry = FakeRegistry({LOYALTY_ID: doc})
    _, _, strict = load(settings(tmp_path, schema=LOYALTY_ID), registry)
    assert strict.problems == [
        "mapping loyalty-events: xdm_class: experienceevent, but schema "
        f"{LOYALTY_ID} version 1.3 is of class https://ns.adobe.com/xdm/context/profile",
        f"mapping loyalty-events: tenant: exchangeinternal, but the tenant namespace of schema {LOYALTY_ID} "
        "version 1.3 is _other",
        f"mapping loyalty-events: fields._exchangeinternal.loyaltyLevel: not in schema {LOYALTY_ID} version 1.3 "
        "(AEP drops records that carry it)",
    ]
    _, _, warn = load(settings(tmp_path, schema=LOYALTY_ID, validate="warn"), registry)
    assert warn.problems == [] and len(warn.notes) == 3


def test_schema_missing_in_aep_is_a_problem(tmp_path: Path) -> None:
    """A schema $id the registry does not know is a config problem, whatever is cached."""
    _, _, found = load(settings(tmp_path, schema=LOYALTY_ID), FakeRegistry())
    assert found.problems == [
        f"mapping loyalty-events: schema: schema {LOYALTY_ID}: schema {LOYALTY_ID} does not exist in the "
        "Schema Registry of this sandbox"
    ]


def test_fetching_needs_platform_credentials(tmp_path: Path) -> None:
    """Without OAuth credentials a registry schema cannot be fetched: said at start, with the alternative."""
    s = settings(tmp_path, schema=LOYALTY_ID, aep={"auth": {}})
    compiled, _ = compile_mappings(s.mappings, s.aep)
    _, found = load_schemas(s, [m.parsed for m in compiled], clock=FakeClock())
    assert len(found.problems) == 1
    assert "needs Platform API access" in found.problems[0] and "client_id" in found.problems[0]


def test_off_or_no_schema_is_not_wrapped(tmp_path: Path) -> None:
    """validate: off, or no schema at all, leaves the mapper as compiled."""
    registry = FakeRegistry({LOYALTY_ID: LOYALTY_SCHEMA})
    for s in (settings(tmp_path, schema=LOYALTY_ID, validate="off"), settings(tmp_path)):
        mapping, service, _ = load(s, registry)
        assert service.wrap(mapping) is mapping


def test_compile_plan_wraps_with_a_file_schema_and_needs_no_network(tmp_path: Path) -> None:
    """An exported schema file: compile_plan routes records through validation, offline."""
    plan = compile_plan(settings(tmp_path, schema=str(LOYALTY_SCHEMA_FILE)), clock=FakeClock())
    pipeline = plan.router.pipeline_for("loyalty-events")
    assert pipeline is not None and isinstance(pipeline.mapper, ValidatingMapper)
    with pytest.raises(SchemaViolation):
        pipeline.mapper.map(SourceRecord("loyalty-events", 0, 0, b"k", b""), invalid_value())


def test_compile_plan_fails_on_unavailable_strict_schema_and_on_problems(tmp_path: Path) -> None:
    """compile_plan raises FatalError for an unreachable strict schema and ConfigError for a bad file."""
    s = settings(
        tmp_path,
        schema=LOYALTY_ID,
        aep={
            "platform_url": "http://127.0.0.1:9",
            "auth": {"client_id": "c", "client_secret": "s", "token_url": "http://127.0.0.1:9/ims/token/v3"},
        },
        xdm={"startup_timeout_s": 0},
    )
    with pytest.raises(FatalError, match="AEP is unreachable"):
        compile_plan(s, clock=FakeClock())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"$id": LOYALTY_ID, "allOf": []}), encoding="utf-8")
    with pytest.raises(ConfigError, match="unresolved"):
        compile_plan(settings(tmp_path, schema=str(bad)), clock=FakeClock())


def test_refresher_thread_refreshes_due_schemas_and_stops(tmp_path: Path) -> None:
    """start() refreshes a due schema in the background; close() stops the thread."""
    clock = FakeClock()
    registry = FakeRegistry({LOYALTY_ID: LOYALTY_SCHEMA})
    mapping, service, _ = load(settings(tmp_path, schema=LOYALTY_ID), registry, clock)
    service.wrap(mapping)
    clock.sleep(301)
    service.start()
    deadline = time.monotonic() + 10
    while registry.schema_calls < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    service.close()
    assert registry.schema_calls >= 2
    assert service._thread is not None and not service._thread.is_alive()
