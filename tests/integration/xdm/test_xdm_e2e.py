"""Pre-flight XDM validation end to end: real broker, real HTTP to the emulator, the real worker.

The emulator runs in its production-like default: schema-invalid records are accepted by DCS
(a success entry in the 207) and land in failed batches, so a record that reaches it invalid is
silently lost to the connector; exactly what validation must prevent. The schema is created
through the emulator's Schema Registry (field group + schema + dataset) and fetched by the
connector in its resolved form (xed-full), as from AEP.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.app import compile_plan
from connector.config import load_settings
from connector.emulator import EmulatorServer
from connector.kafka.dead_letter import H_CLASS, H_MESSAGE, H_REASON, H_STAGE
from tests.harness.kafka_broker import create_topic
from tests.integration.pipeline.harness import (
    Audit,
    audit,
    fully_committed,
    produce,
    read_topic,
    wait_until,
    worker_thread,
)
from tests.integration.xdm.helpers import Audited, audit_value, change_levels, validating_config

pytestmark = pytest.mark.integration
RECORDS = 300
INVALID = {5: "bad", 100: -5, 250: 2**40}  # type, minimum, maximum (int range)


def produce_records(bootstrap: str, name: str, values: list[bytes] | None = None) -> tuple[str, str]:
    topic, dlq = f"{name}-src", f"{name}-dlq"
    create_topic(bootstrap, topic, 2)
    create_topic(bootstrap, dlq, 1)
    values = values or [audit_value(INVALID.get(i, i), i) for i in range(RECORDS)]
    produce(bootstrap, topic, values, partitions=2)
    return topic, dlq


def run_worker(
    bootstrap: str, name: str, aep: EmulatorServer, audited: Audited, tmp_path: Path, **options: Any
) -> tuple[Audit, str]:
    """Produce the records, run the worker until every offset is committed; the audit and the DLQ topic."""
    topic, dlq = produce_records(bootstrap, name)
    options.setdefault("cache_dir", tmp_path / "cache")
    cfg = validating_config(
        tmp_path / "c.yaml",
        bootstrap=bootstrap,
        group=name,
        topic=topic,
        dead_letter=dlq,
        emulator=aep,
        audited=audited,
        **options,
    )
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(bootstrap, name, topic), 90, "all offsets committed")
    return audit(bootstrap, [topic], aep, dlq), dlq


def test_schema_invalid_records_are_dead_lettered_before_sending(
    kafka_bootstrap: str, unique_name: str, aep: EmulatorServer, audited: Audited, tmp_path: Path
) -> None:
    """strict (the default with schema:): invalid records go to the DLQ as xdm-invalid, none reach AEP."""
    result, _ = run_worker(kafka_bootstrap, unique_name, aep, audited, tmp_path)
    assert result.missing == set()
    assert len(result.delivered) == RECORDS - len(INVALID)
    assert aep.store.failed() == [], "no schema-invalid record reached AEP"
    version = audited.resolved(aep.url)["version"]
    dead = {orjson.loads(m.value())["n"]: dict(m.headers()) for m in result.dead_lettered.values()}
    assert sorted(dead, key=str) == sorted(INVALID.values(), key=str)
    for n, h in dead.items():
        assert h[H_REASON] == b"xdm-invalid" and h[H_STAGE] == b"validate"
        assert h[H_CLASS].endswith(b"SchemaViolation")
        message = h[H_MESSAGE].decode()
        assert f"of schema {audited.schema_id} version {version}" in message
        rule = {"bad": "type", -5: "minimum", 2**40: "maximum"}[n]
        assert f"/_acme/n: {rule}:" in message, message
    assert list((tmp_path / "cache").glob("schema-*.json")), "the fetched schema is cached on disk"


def test_without_validation_aep_accepts_them_and_fails_them_later(
    kafka_bootstrap: str, unique_name: str, aep: EmulatorServer, audited: Audited, tmp_path: Path
) -> None:
    """validate: off: DCS answers success for the invalid records; they only show up as failed records."""
    result, _ = run_worker(kafka_bootstrap, unique_name, aep, audited, tmp_path, validate="off")
    assert result.dead_lettered == {}
    wait_until(lambda: len(aep.store.failed()) == len(INVALID), 20, "the failed batch to close")
    failed = [f["body"]["body"]["xdmEntity"]["_acme"]["n"] for f in aep.store.failed()]
    assert sorted(failed, key=str) == sorted(INVALID.values(), key=str)
    assert len(result.missing) == len(INVALID), "committed by the connector, neither delivered nor dead-lettered"


def test_restart_during_a_platform_outage_validates_with_the_cached_schema(
    kafka_bootstrap: str, unique_name: str, aep: EmulatorServer, audited: Audited, tmp_path: Path
) -> None:
    """A worker started while the Platform API is unreachable uses the schema cached by the previous start."""
    cache = tmp_path / "cache"
    warmup = validating_config(
        tmp_path / "first.yaml",
        bootstrap=kafka_bootstrap,
        group="warmup",
        topic="warmup",
        dead_letter="warmup-dlq",
        emulator=aep,
        audited=audited,
        cache_dir=cache,
    )
    compile_plan(load_settings(warmup))  # a start with AEP reachable fills the cache
    result, dlq = run_worker(
        kafka_bootstrap, unique_name, aep, audited, tmp_path, cache_dir=cache, platform_url="http://127.0.0.1:9"
    )
    assert result.missing == set() and aep.store.failed() == []
    assert len(result.dead_lettered) == len(INVALID)
    assert {dict(m.headers())[H_REASON] for m in read_topic(kafka_bootstrap, dlq)} == {b"xdm-invalid"}


def test_a_schema_changed_in_aep_is_picked_up_without_a_restart(
    kafka_bootstrap: str, unique_name: str, aep: EmulatorServer, audited: Audited, tmp_path: Path
) -> None:
    """An enum value added in AEP (new schema version): records using it are dead-lettered before, delivered after."""
    topic, dlq = produce_records(kafka_bootstrap, unique_name, [audit_value(i, i, "Bronze") for i in range(10)])
    cfg = validating_config(
        tmp_path / "c.yaml",
        bootstrap=kafka_bootstrap,
        group=unique_name,
        topic=topic,
        dead_letter=dlq,
        emulator=aep,
        audited=audited,
        cache_dir=tmp_path / "cache",
        xdm={"recheck_after_s": 1},
    )
    before = audited.resolved(aep.url)["version"]
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "the first records committed")
        assert aep.store.records() == []
        change_levels(aep, audited, ["Silver", "Gold", "Bronze"])
        after = audited.resolved(aep.url)["version"]
        assert after != before
        time.sleep(1.1)  # older than recheck_after_s: the next failing record re-fetches the schema
        produce(kafka_bootstrap, topic, [audit_value(i, i, "Bronze") for i in range(10, 20)], partitions=2)
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "the later records committed")
    dead = read_topic(kafka_bootstrap, dlq)
    assert len(dead) == 10
    assert all(f"version {before}".encode() in dict(m.headers())[H_MESSAGE] for m in dead)
    assert sorted(r["xdmEntity"]["_acme"]["n"] for r in aep.store.records()) == list(range(10, 20))
    assert aep.store.failed() == []
