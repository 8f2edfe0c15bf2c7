"""Avro records through the whole worker: real Kafka, real registry, the AEP emulator, the dead-letter topic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from connector.app import build_worker, compile_plan
from connector.config import BatchingSettings, DeadLetterSettings, KafkaSettings, SchemaRegistrySettings, Settings
from connector.emulator.server import EmulatorServer
from connector.kafka.dead_letter import H_REASON, H_STAGE
from connector.worker import Worker, WorkerOptions
from tests.harness.kafka_broker import committed_offsets, create_topic, end_offsets, produce
from tests.harness.schema_registry import SchemaRegistry
from tests.integration.serde.helpers import JSON_SAMPLES, V1_TEXT, V2_TEXT, avro_event, avro_mapping, consume, settings

pytestmark = pytest.mark.integration



def worker_settings(
    bootstrap: str, registry_url: str, emulator: EmulatorServer, topic: str, name: str
) -> tuple[Settings, str]:
    source, _ = avro_mapping(topic)
    dlq = f"{name}-dlq"
    base = settings(registry_url)
    s = replace(
        base,
        kafka=KafkaSettings(bootstrap, f"{name}-group", (topic,)),
        aep=replace(base.aep, inlet_url=emulator.inlet_url(emulator.create_inlet())),
        dead_letter=DeadLetterSettings(dlq),
        batching=BatchingSettings(linger_ms=20, commit_interval_ms=200),
        mappings=(source,),
        schema_registry=SchemaRegistrySettings(url=registry_url, timeout_s=2.0),
    )
    return s, dlq


def run_worker(s: Settings) -> tuple[Worker, threading.Thread]:
    options = WorkerOptions(retry_decode_after_s=0.5, max_retry_decode_after_s=1.0)
    worker = build_worker(compile_plan(s), options=options)
    thread = threading.Thread(target=worker.run, name="avro-worker", daemon=True)
    thread.start()
    return worker, thread


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def avro_values(url: str, topic: str, n: int) -> list[bytes]:
    client = SchemaRegistryClient({"url": url})
    ser = [AvroSerializer(client, V1_TEXT), AvroSerializer(client, V2_TEXT)]
    ctx = SerializationContext(topic, MessageField.VALUE)
    values: list[bytes] = []
    for i in range(n):
        out = ser[i % 2](avro_event(JSON_SAMPLES[i % len(JSON_SAMPLES)], i, transaction=i % 2 == 1), ctx)
        assert out is not None
        values.append(out)
    return values


def entities(emulator: EmulatorServer) -> list[dict[str, Any]]:
    rows = emulator.store.records()
    return [r["xdmEntity"] for r in rows]


def test_avro_records_reach_aep_and_bad_ones_are_dead_lettered(
    kafka_bootstrap: str, schema_registry_url: str, emulator: EmulatorServer, unique_name: str
) -> None:
    """Good Avro records are delivered; each undecodable one lands on the DLQ, bytes intact, with its reason."""
    topic = f"{unique_name}-in"
    create_topic(kafka_bootstrap, topic)
    good = avro_values(schema_registry_url, topic, 200)
    bad = {
        b"tombstone": None,
        b"not-framed": b'{"event_id": 1}',
        b"unknown-id": b"\x00\x7f\xff\xff\x00" + good[0][5:],
        b"corrupt": good[0][:-3],
    }
    messages: list[tuple[bytes | None, bytes | None]] = [(str(i).encode(), v) for i, v in enumerate(good)]
    for n, item in enumerate(bad.items()):
        messages.insert(50 * n + 10, item)
    produce(kafka_bootstrap, topic, messages)
    s, dlq = worker_settings(kafka_bootstrap, schema_registry_url, emulator, topic, unique_name)
    create_topic(kafka_bootstrap, dlq)
    worker, thread = run_worker(s)
    try:
        wait_for(lambda: len(emulator.store.records()) >= 200 and worker.status.dead_lettered >= 4, 60, "delivery")
        wait_for(lambda: committed_offsets(kafka_bootstrap, s.kafka.group_id, topic) == end_offsets(
            kafka_bootstrap, topic), 30, "commit")  # fmt: skip
    finally:
        worker.stop()
        thread.join(30)
    assert len(emulator.store.records()) == 200
    expected_ids = {str(avro_event(JSON_SAMPLES[i % len(JSON_SAMPLES)], i)["event_id"]) for i in range(200)}
    assert {e["_id"] for e in entities(emulator)} == expected_ids
    assert sum("transactionID" in e["_exchangeinternal"] for e in entities(emulator)) == 100
    dead = consume(kafka_bootstrap, dlq, 4)
    got = {r.key: (r.value, dict(r.headers)[H_REASON], dict(r.headers)[H_STAGE]) for r in dead}
    want_reason = {b"tombstone": b"tombstone", b"not-framed": b"not-avro-framed",
                   b"unknown-id": b"unknown-schema-id", b"corrupt": b"corrupt-avro"}  # fmt: skip
    assert got == {k: (v, want_reason[k], b"decode") for k, v in bad.items()}


def test_registry_outage_pauses_delivery_without_dead_letters(
    kafka_bootstrap: str, own_schema_registry: SchemaRegistry, emulator: EmulatorServer, unique_name: str
) -> None:
    """Registry down before any schema is cached: nothing delivered, dead-lettered or committed; restarted: all go."""
    url = own_schema_registry.url
    topic = f"{unique_name}-in"
    create_topic(kafka_bootstrap, topic)
    values = avro_values(url, topic, 100)
    produce(kafka_bootstrap, topic, [(None, v) for v in values])
    s, dlq = worker_settings(kafka_bootstrap, url, emulator, topic, unique_name)
    create_topic(kafka_bootstrap, dlq)
    own_schema_registry.stop()
    worker, thread = run_worker(s)
    try:
        time.sleep(6)
        assert worker.status.consumed > 0, "the worker polled records and kept retrying their decode"
        assert emulator.store.records() == []
        assert worker.status.dead_lettered == 0
        assert committed_offsets(kafka_bootstrap, s.kafka.group_id, topic) == {}
        own_schema_registry.start()
        wait_for(lambda: len(emulator.store.records()) >= 100, 60, "delivery after the registry came back")
        wait_for(lambda: committed_offsets(kafka_bootstrap, s.kafka.group_id, topic) == end_offsets(
            kafka_bootstrap, topic), 30, "commit")  # fmt: skip
    finally:
        worker.stop()
        thread.join(30)
    assert worker.status.dead_lettered == 0
    assert end_offsets(kafka_bootstrap, dlq) == {0: 0}
    ids = sorted(int(e["_id"]) for e in entities(emulator))
    assert len(ids) == 100 == len(set(ids))
