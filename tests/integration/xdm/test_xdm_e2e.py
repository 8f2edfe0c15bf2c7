"""Pre-flight XDM validation end to end: real broker, real HTTP to the emulator, the real worker.

The emulator runs production-like (schema-invalid records are accepted by DCS and land in failed
batches, `async_validation_failures="accept"`), so a record that reaches it invalid is silently
lost to the connector: exactly what validation must prevent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.app import compile_plan
from connector.config import load_settings
from connector.emulator import EmulatorOptions, EmulatorServer
from connector.kafka.dead_letter import H_CLASS, H_MESSAGE, H_REASON, H_STAGE
from connector.testing.kafka_broker import create_topic
from tests.integration.pipeline.harness import (
    Audit,
    audit,
    fully_committed,
    produce,
    read_topic,
    wait_until,
    worker_thread,
)
from tests.integration.xdm.helpers import SCHEMA_ID, audit_value, serve_schema, validating_config

pytestmark = pytest.mark.integration
RECORDS = 300
INVALID = {5: "bad", 100: -5, 250: 2**40}  # type, minimum, the range of meta:xdmType int


@pytest.fixture
def aep() -> Iterator[EmulatorServer]:
    """A production-like emulator: DCS accepts schema-invalid records and fails them asynchronously."""
    server = EmulatorServer(port=0, store="memory", options=EmulatorOptions(async_validation_failures="accept"))
    server.start()
    serve_schema(server)
    try:
        yield server
    finally:
        server.stop()


def produce_records(bootstrap: str, name: str) -> tuple[str, str]:
    topic, dlq = f"{name}-src", f"{name}-dlq"
    create_topic(bootstrap, topic, 2)
    create_topic(bootstrap, dlq, 1)
    produce(bootstrap, topic, (audit_value(INVALID.get(i, i), i) for i in range(RECORDS)), partitions=2)
    return topic, dlq


def run_worker(bootstrap: str, name: str, aep: EmulatorServer, tmp_path: Path, **options: Any) -> tuple[Audit, str]:
    """Produce the records, run the worker until every offset is committed; the audit and the DLQ topic."""
    topic, dlq = produce_records(bootstrap, name)
    options.setdefault("cache_dir", tmp_path / "cache")
    cfg = validating_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group=name, topic=topic, dead_letter=dlq, emulator=aep, **options
    )
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(bootstrap, name, topic), 90, "all offsets committed")
    return audit(bootstrap, [topic], aep, dlq), dlq


def test_schema_invalid_records_are_dead_lettered_before_sending(
    kafka_bootstrap: str, unique_name: str, aep: EmulatorServer, tmp_path: Path
) -> None:
    """strict (the default with schema:): invalid records go to the DLQ as xdm-invalid, none reach AEP."""
    result, _ = run_worker(kafka_bootstrap, unique_name, aep, tmp_path)
    assert result.missing == set()
    assert len(result.delivered) == RECORDS - len(INVALID)
    assert aep.store.failed() == [], "no schema-invalid record reached AEP"
    dead = {orjson.loads(m.value())["n"]: dict(m.headers()) for m in result.dead_lettered.values()}
    assert sorted(dead, key=str) == sorted(INVALID.values(), key=str)
    for n, h in dead.items():
        assert h[H_REASON] == b"xdm-invalid" and h[H_STAGE] == b"validate"
        assert h[H_CLASS].endswith(b"SchemaViolation")
        message = h[H_MESSAGE].decode()
        assert f"of schema {SCHEMA_ID} version 1.0" in message
        rule = {"bad": "type", -5: "minimum", 2**40: "maximum"}[n]
        assert f"/_acme/n: {rule}:" in message, message
    assert list((tmp_path / "cache").glob("schema-*.json")), "the fetched schema is cached on disk"


def test_without_validation_aep_accepts_them_and_fails_them_later(
    kafka_bootstrap: str, unique_name: str, aep: EmulatorServer, tmp_path: Path
) -> None:
    """validate: off: DCS answers success for the invalid records, they only show up as failed records."""
    result, _ = run_worker(kafka_bootstrap, unique_name, aep, tmp_path, validate="off")
    assert result.dead_lettered == {}
    failed = [f["body"]["body"]["xdmEntity"]["_acme"]["n"] for f in aep.store.failed()]
    assert "bad" in failed and -5 in failed
    assert len(result.missing) == len(failed), "committed by the connector, neither delivered nor dead-lettered"


def test_restart_during_a_platform_outage_validates_with_the_cached_schema(
    kafka_bootstrap: str, unique_name: str, aep: EmulatorServer, tmp_path: Path
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
        cache_dir=cache,
    )
    compile_plan(load_settings(warmup))  # a start with AEP reachable fills the cache
    result, dlq = run_worker(
        kafka_bootstrap, unique_name, aep, tmp_path, cache_dir=cache, platform_url="http://127.0.0.1:9"
    )
    assert result.missing == set() and aep.store.failed() == []
    assert len(result.dead_lettered) == len(INVALID)
    assert {dict(m.headers())[H_REASON] for m in read_topic(kafka_bootstrap, dlq)} == {b"xdm-invalid"}
