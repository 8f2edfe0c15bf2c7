"""Exact decimals end to end: real Kafka, a real registry (Apicurio), the worker, the emulator over loopback."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from connector.app import build_worker, compile_plan
from connector.config import BatchingSettings, DeadLetterSettings, KafkaSettings, MappingSource, SchemaRegistrySettings
from connector.emulator.server import EmulatorServer
from connector.worker import WorkerOptions
from tests.harness.kafka_broker import committed_offsets, create_topic, end_offsets, produce
from tests.integration.serde.helpers import ROOT, settings
from tests.integration.serde.test_avro_worker import wait_for

pytestmark = pytest.mark.integration

AMOUNT_18 = "1234567890123456.78"  # 18 significant digits: float() made it 1234567890123456.8
JSON_17 = "1234567890.1234567"  # 17 significant digits: a double reads it as 1234567890.1234567165...
SCHEMA = """
{"type": "record", "name": "Payment", "namespace": "it.decimals", "fields": [
  {"name": "id", "type": "string"},
  {"name": "email", "type": "string"},
  {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}}
]}
"""


def _mapping(name: str, topic: str, fmt: str) -> MappingSource:
    spec: dict[str, Any] = {
        "name": name,
        "topics": [topic],
        "format": fmt,
        "xdm_class": "experienceevent",
        "schema_id": "https://ns.adobe.com/acme/schemas/payments",
        "dataset_id": "5f0000000000000000000001",
        "tenant": "acme",
        "identities": [{"namespace": "Email", "value": "value.email", "primary": True}],
        "fields": {
            "_id": "value.id",
            "timestamp": "value.ts",
            "eventType": "'payment'",
            "_acme": {"amount": "value.amount", "amountText": "to_string(value.amount)"},
        },
    }
    return MappingSource(name, spec, f"<{name}>", ROOT)


def test_decimal_digits_arrive_in_aep_as_they_were(
    kafka_bootstrap: str, schema_registry_url: str, emulator: EmulatorServer, unique_name: str
) -> None:
    """A registry-framed Avro decimal of 18 digits and a JSON number of 17 reach the emulator digit for digit."""
    avro_topic, json_topic, dlq = f"{unique_name}-avro", f"{unique_name}-json", f"{unique_name}-dlq"
    for t in (avro_topic, json_topic, dlq):
        create_topic(kafka_bootstrap, t)
    serializer = AvroSerializer(SchemaRegistryClient({"url": schema_registry_url}), SCHEMA)
    when = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
    framed = serializer(
        {"id": "avro-1", "email": "a@example.com", "ts": when, "amount": Decimal(AMOUNT_18)},
        SerializationContext(avro_topic, MessageField.VALUE),
    )
    assert framed is not None and framed[0] == 0  # Confluent framing: magic byte, then the registry's schema id
    produce(kafka_bootstrap, avro_topic, [(b"a", framed)])
    body = '{"id":"json-1","email":"j@example.com","ts":"2024-03-15T12:00:00Z","amount":' + JSON_17 + "}"
    produce(kafka_bootstrap, json_topic, [(b"j", body.encode())])

    base = settings(schema_registry_url)
    s = replace(
        base,
        kafka=KafkaSettings(kafka_bootstrap, f"{unique_name}-group", (avro_topic, json_topic)),
        aep=replace(base.aep, inlet_url=emulator.inlet_url(emulator.create_inlet())),
        dead_letter=DeadLetterSettings(dlq),
        batching=BatchingSettings(linger_ms=20, commit_interval_ms=200),
        mappings=(_mapping("payments-avro", avro_topic, "avro"), _mapping("payments-json", json_topic, "json")),
        schema_registry=SchemaRegistrySettings(url=schema_registry_url, timeout_s=5.0),
    )
    worker = build_worker(compile_plan(s), options=WorkerOptions(shutdown_timeout_s=5.0))
    thread = threading.Thread(target=worker.run, name="decimals-worker", daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(emulator.store.records()) >= 2, 60, "both records in the emulator")
        def all_committed() -> bool:
            return all(
                committed_offsets(kafka_bootstrap, s.kafka.group_id, t) == end_offsets(kafka_bootstrap, t)
                for t in (avro_topic, json_topic)
            )

        wait_for(all_committed, 30, "the commits of both topics")
    finally:
        worker.stop()
        thread.join(30)
    assert worker.status.dead_lettered == 0
    stored = {r["xdmEntity"]["_id"]: r["xdmEntity"]["_acme"] for r in emulator.store.records()}
    assert stored["avro-1"]["amount"] == Decimal(AMOUNT_18) and str(stored["avro-1"]["amount"]) == AMOUNT_18
    assert stored["json-1"]["amount"] == Decimal(JSON_17) and str(stored["json-1"]["amount"]) == JSON_17
    assert (stored["avro-1"]["amountText"], stored["json-1"]["amountText"]) == (AMOUNT_18, JSON_17)
