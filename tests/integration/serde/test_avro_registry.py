"""Avro through a real Kafka broker and a real (Apicurio) schema registry.

UPDATE_GOLDEN=1 rewrites golden/loyalty-events-avro.json from the current output (review the diff).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from connector.errors import DecodeError, RetriableError, RetryAfterError
from connector.records import SourceRecord
from connector.serde.avro import AvroDeserializer
from connector.serde.factory import build_deserializers
from connector.serde.registry import COOL_DOWN_S, RegistryClient
from tests.harness.kafka_broker import create_topic, produce
from tests.harness.schema_registry import SchemaRegistry
from tests.integration.serde.helpers import (
    JSON_SAMPLES,
    SAMPLES,
    V1_TEXT,
    V2_TEXT,
    avro_event,
    avro_mapping,
    consume,
    json_mapping,
    settings,
)

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parent / "golden" / "loyalty-events-avro.json"
TOTAL = 5_000


def serializers(url: str, topic: str) -> tuple[Any, Any, SerializationContext]:
    client = SchemaRegistryClient({"url": url})
    return AvroSerializer(client, V1_TEXT), AvroSerializer(client, V2_TEXT), SerializationContext(
        topic, MessageField.VALUE
    )


def entity(envelope: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = envelope["body"]["xdmEntity"]
    return body


def test_5000_records_over_two_schema_versions_decode_and_map(
    kafka_bootstrap: str, schema_registry_url: str, unique_name: str
) -> None:
    """confluent-kafka's AvroSerializer writes v1 and v2 records; every one decodes and maps to golden XDM."""
    topic = f"{unique_name}-loyalty"
    create_topic(kafka_bootstrap, topic, partitions=2)
    ser_v1, ser_v2, ctx = serializers(schema_registry_url, topic)
    messages = []
    for i in range(TOTAL):
        sample = JSON_SAMPLES[i % len(JSON_SAMPLES)]
        v2 = i % 2 == 1
        value = (ser_v2 if v2 else ser_v1)(avro_event(sample, i, transaction=v2), ctx)
        messages.append((str(i).encode(), value))
    assert produce(kafka_bootstrap, topic, messages) == TOTAL

    records = consume(kafka_bootstrap, topic, TOTAL)
    decode = AvroDeserializer(RegistryClient(schema_registry_url).writer_schema)
    _, mapping = avro_mapping(topic)
    by_key: dict[int, dict[str, Any]] = {}
    schema_ids = set()
    for record in records:
        assert record.value is not None
        schema_ids.add(int.from_bytes(record.value[1:5], "big"))
        by_key[int(record.key or b"")] = mapping.map(record, decode(record))
    assert len(by_key) == TOTAL
    assert len(schema_ids) == 2, "v1 and v2 are two registry ids"

    # the v1 twin of each JSON sample maps to the same xdmEntity as the JSON mapping
    reference = json_mapping()
    for i, sample in enumerate(JSON_SAMPLES):
        if i % 2 == 0:
            rebased = {**sample, "_id": sample["_id"] + i * 100_000_000}
            assert entity(by_key[i]) == entity(reference.map(records[0], rebased)), i

    got = {str(k): entity(by_key[k]) for k in (0, 1, 2, 3, 1234, 4999)}
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text())
    assert "transactionID" not in entity(by_key[0])["_exchangeinternal"]
    assert entity(by_key[1])["_exchangeinternal"]["transactionID"] == "tx-1"


def test_plain_avro_with_local_schema(kafka_bootstrap: str, unique_name: str) -> None:
    """Schemaless Avro bytes on a topic decode with the mapping's .avsc and map like the JSON samples."""
    topic = f"{unique_name}-plain"
    create_topic(kafka_bootstrap, topic)
    schema = fastavro.parse_schema(json.loads(V1_TEXT))
    messages = []
    for sample in JSON_SAMPLES:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, avro_event(sample))
        messages.append((None, out.getvalue()))
    produce(kafka_bootstrap, topic, messages)
    _, mapping = avro_mapping(
        topic, format="avro-plain", avro_schema=str(SAMPLES / "loyalty-event.avsc")
    )
    assert mapping.avro_schema_path == SAMPLES / "loyalty-event.avsc"
    decoders, problems = build_deserializers([mapping], settings())
    assert problems == []
    reference = json_mapping()
    records = consume(kafka_bootstrap, topic, len(JSON_SAMPLES))
    for record, sample in zip(sorted(records, key=lambda r: r.offset), JSON_SAMPLES, strict=True):
        assert entity(mapping.map(record, decoders[mapping.name](record))) == entity(reference.map(record, sample))


def test_each_failure_class_has_its_reason(kafka_bootstrap: str, schema_registry_url: str, unique_name: str) -> None:
    """Tombstone, empty, unframed, unknown id (a real 404), truncated, trailing bytes: distinct reasons."""
    topic = f"{unique_name}-bad"
    create_topic(kafka_bootstrap, topic)
    ser_v1, _, ctx = serializers(schema_registry_url, topic)
    good = ser_v1(avro_event(JSON_SAMPLES[0]), ctx)
    unknown_id = b"\x00" + (2**31 - 7).to_bytes(4, "big") + good[5:]
    cases: dict[str, tuple[bytes | None, str | None]] = {
        "good": (good, None),
        "tombstone": (None, "tombstone"),
        "empty": (b"", "empty-value"),
        "json": (b'{"event_id": 1}', "not-avro-framed"),
        "short": (b"\x00\x00\x01", "not-avro-framed"),
        "unknown-id": (unknown_id, "unknown-schema-id"),
        "truncated": (good[:-4], "corrupt-avro"),
        "trailing": (good + b"\x00", "corrupt-avro"),
        "garbage": (good[:5] + b"\xff" * 12, "corrupt-avro"),
    }
    produce(kafka_bootstrap, topic, [(name.encode(), value) for name, (value, _) in cases.items()])
    decode = AvroDeserializer(RegistryClient(schema_registry_url).writer_schema)
    seen: dict[str, str | None] = {}
    for record in consume(kafka_bootstrap, topic, len(cases)):
        name = (record.key or b"").decode()
        try:
            decode(record)
            seen[name] = None
        except DecodeError as exc:
            seen[name] = exc.reason
            assert exc.stage == "decode"
    assert seen == {name: want for name, (_, want) in cases.items()}


def test_registry_outage_is_retriable_and_recovers(own_schema_registry: SchemaRegistry, unique_name: str) -> None:
    """Registry stopped: an uncached id raises RetriableError (a cached one still decodes); restarted: decodes."""
    url = own_schema_registry.url
    topic = f"{unique_name}-outage"
    ser_v1, ser_v2, ctx = serializers(url, topic)
    cached = SourceRecord(topic, 0, 0, None, ser_v1(avro_event(JSON_SAMPLES[0]), ctx))
    uncached = SourceRecord(topic, 0, 1, None, ser_v2(avro_event(JSON_SAMPLES[1], 1, transaction=True), ctx))
    now = [1000.0]  # the client's clock: its cool-down after a failure must not depend on how fast Java restarts
    decode = AvroDeserializer(RegistryClient(url, timeout_s=2.0, clock=lambda: now[0]).writer_schema)
    assert decode(cached)["loyalty_id"] == JSON_SAMPLES[0]["_exchangeinternal"]["loyaltyID"]

    own_schema_registry.stop()
    assert decode(cached)["event_id"] == JSON_SAMPLES[0]["_id"]
    with pytest.raises(RetriableError) as info:
        decode(uncached)
    assert not isinstance(info.value, DecodeError)
    assert "unreachable" in str(info.value)

    own_schema_registry.start()
    with pytest.raises(RetryAfterError) as cooling:  # within the cool-down: not asked again, told when to retry
        decode(uncached)
    assert 0 < cooling.value.retry_after <= COOL_DOWN_S
    now[0] += COOL_DOWN_S
    assert decode(uncached)["transaction_id"] == "tx-1"
