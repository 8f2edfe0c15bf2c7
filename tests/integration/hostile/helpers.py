"""Hostile records: each class of bad input with the dead-letter reason and stage it must get."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.integration.pipeline.harness import Coord, event

BIG = 4 * 1024 * 1024  # topic, producer and dead-letter limits that let a 2 MB record through Kafka
ORIGIN_HEADER = ("origin", b"hostile-suite")
AVRO_SCHEMA = orjson.dumps(
    {
        "type": "record",
        "name": "AuditEvent",
        "namespace": "test.hostile",
        "fields": [
            {"name": "n", "type": "long"},
            {"name": "email", "type": "string"},
            {"name": "ts", "type": "string"},
        ],
    }
).decode()
UNKNOWN_SCHEMA_ID = 987_654_321


@dataclass(frozen=True, slots=True)
class Hostile:
    """One class of bad input: its bytes and the dead-letter reason and stage it must get."""

    name: str
    value: bytes | None
    reason: str
    stage: str


def json_record(n: int, **fields: Any) -> bytes:
    """A good audit event with some fields replaced (None removes the field)."""
    base = orjson.loads(event(n))
    base.update(fields)
    return orjson.dumps({k: v for k, v in base.items() if v is not None})


def json_hostiles() -> list[Hostile]:
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    blob = os.urandom(1024 * 1024).hex()  # 2 MB of text the mapping copies into the envelope
    return [
        Hostile("invalid json", b'{"n": 1, "email": ', "invalid-json", "decode"),
        Hostile("invalid utf-8", b'{"n": 1, "email": "\xff\xfe@example.com"}', "invalid-utf8", "decode"),
        Hostile("tombstone", None, "tombstone", "decode"),
        Hostile("empty value", b"", "empty-value", "decode"),
        Hostile("json array", b'[{"n": 1}]', "not-an-object", "decode"),
        Hostile("10,000-deep nesting", deep, "too-deep", "decode"),
        Hostile("2 MB record", json_record(1, blob=blob), "too-large", "deliver"),
        Hostile("missing identity", json_record(2, email=None), "missing-identity", "map"),
        Hostile("missing timestamp", json_record(3, ts=None), "missing-timestamp", "map"),
        Hostile("unparseable timestamp", json_record(4, ts="last tuesday"), "bad-timestamp", "map"),
        Hostile("future timestamp", json_record(5, ts="2999-01-01T00:00:00Z"), "future-timestamp", "map"),
        Hostile("to_int of 'abc'", json_record(6, count="abc"), "type-error", "map"),
    ]


def avro_serializer(registry_url: str, topic: str) -> Any:
    """value -> Confluent-framed Avro bytes, registering AVRO_SCHEMA under `<topic>-value`."""
    serializer = AvroSerializer(SchemaRegistryClient({"url": registry_url}), AVRO_SCHEMA)
    ctx = SerializationContext(topic, MessageField.VALUE)
    return lambda value: serializer(value, ctx)


def avro_hostiles(good: bytes) -> list[Hostile]:
    """Bad Avro, made from one good framed record."""
    unknown_id = good[:1] + UNKNOWN_SCHEMA_ID.to_bytes(4, "big") + good[5:]
    return [
        Hostile("unknown schema id", unknown_id, "unknown-schema-id", "decode"),
        Hostile("truncated avro", good[:-4], "corrupt-avro", "decode"),
        Hostile("no magic byte", b"plain text, not Avro", "not-avro-framed", "decode"),
    ]


def produce_with_headers(bootstrap: str, topic: str, values: list[bytes | None], partitions: int) -> list[Coord]:
    """Like `harness.produce` (round-robin, key = index), with a header on every record and room for 2 MB values.

    Returns each value's (topic, partition, offset).
    """
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "message.max.bytes": BIG})
    coords: list[Coord | None] = [None] * len(values)
    errors: list[str] = []

    def delivered(i: int) -> Any:
        def report(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                coords[i] = (msg.topic(), msg.partition(), msg.offset())

        return report

    for i, value in enumerate(values):
        producer.produce(
            topic, value=value, key=str(i).encode(), partition=i % partitions, headers=[ORIGIN_HEADER],
            on_delivery=delivered(i),
        )
        producer.poll(0)
    assert producer.flush(30) == 0 and not errors, errors
    assert all(c is not None for c in coords)
    return [c for c in coords if c is not None]
