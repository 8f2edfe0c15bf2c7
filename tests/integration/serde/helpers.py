"""Shared pieces of the Avro integration tests: schemas, events, Kafka reading, mapping."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from connector.config import (
    AepSettings,
    BatchingSettings,
    DeadLetterSettings,
    DeliverySettings,
    KafkaSettings,
    MappingSource,
    ObservabilitySettings,
    SchemaRegistrySettings,
    Settings,
)
from connector.mapping import CompiledMapping, compile_mappings, load_mapping_file
from connector.records import SourceRecord

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "connector" / "samples"
V1_TEXT = (SAMPLES / "loyalty-event.avsc").read_text()
V2_TEXT = (SAMPLES / "loyalty-event-v2.avsc").read_text()
AVRO_MAPPING = ROOT / "config" / "mappings" / "loyalty-events-avro.yaml"
JSON_MAPPING = ROOT / "config" / "mappings" / "loyalty-events.yaml"
AEP = AepSettings(inlet_url="http://dcs.test/collection/0123abcd")
JSON_SAMPLES: list[dict[str, Any]] = json.loads((SAMPLES / "loyalty-events.json").read_text())


def avro_event(sample: dict[str, Any], i: int = 0, transaction: bool = False) -> dict[str, Any]:
    """The Avro twin of one JSON loyalty sample (v2 when `transaction`)."""
    x = sample["_exchangeinternal"]
    event: dict[str, Any] = {
        "event_id": sample["_id"] + i * 100_000_000,
        "event_type": sample["eventType"],
        "event_time": datetime.fromisoformat(sample["timestamp"]),
        "loyalty_id": x["loyaltyID"],
        "points_earned": x["pointsEarned"],
        "total_points": x["totalPoints"],
        "loyalty_level": x["loyaltyLevel"],
    }
    if transaction:
        event["transaction_id"] = f"tx-{i}"
    return event


def compile_one(source: MappingSource) -> CompiledMapping:
    compiled, problems = compile_mappings([source], AEP)
    assert problems == [], problems
    return compiled[0]


def avro_mapping(topic: str, **overrides: Any) -> tuple[MappingSource, CompiledMapping]:
    """loyalty-events-avro.yaml, retargeted at `topic` (and any spec overrides)."""
    base = load_mapping_file(AVRO_MAPPING)
    spec = {**base.spec, "topics": [topic], **overrides}
    source = MappingSource(base.name, spec, base.origin, base.base_dir)
    return source, compile_one(source)


def json_mapping() -> CompiledMapping:
    return compile_one(load_mapping_file(JSON_MAPPING))


def consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[SourceRecord]:
    """Every record of `topic` from the beginning, as SourceRecords (a plain confluent_kafka Consumer)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"avro-it-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    out: list[SourceRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        consumer.subscribe([topic])
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 1.0):
                assert msg.error() is None, msg.error()
                headers = msg.headers() or []
                assert isinstance(headers, list)
                out.append(
                    SourceRecord(
                        str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0), msg.key(), msg.value(),
                        tuple((k, v.encode() if isinstance(v, str) else v) for k, v in headers), msg.timestamp()[1],
                    )
                )  # fmt: skip
    finally:
        consumer.close()
    assert len(out) == expected, f"read {len(out)} of {expected} records from {topic}"
    return out


def settings(registry_url: str | None = None) -> Settings:
    """Just enough Settings for build_deserializers."""
    return Settings(
        kafka=KafkaSettings("unused:9092", "g", ()),
        aep=AEP,
        dead_letter=DeadLetterSettings("dlq"),
        batching=BatchingSettings(),
        delivery=DeliverySettings(),
        observability=ObservabilitySettings(),
        mappings=(),
        schema_registry=SchemaRegistrySettings(url=registry_url),
    )
