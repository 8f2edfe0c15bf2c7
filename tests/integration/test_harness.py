"""The real-broker and real-registry harness works: data flows, and survives restarts."""

from __future__ import annotations

import json

import pytest
import requests
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.harness.kafka_broker import (
    KafkaBroker,
    committed_offsets,
    consume_all,
    create_topic,
    end_offsets,
    produce,
)
from tests.harness.schema_registry import SchemaRegistry

pytestmark = pytest.mark.integration

USER_SCHEMA = (
    '{"type": "record", "name": "User", "namespace": "harness",'
    ' "fields": [{"name": "id", "type": "string"}, {"name": "visits", "type": "int"}]}'
)


def _commit_all(bootstrap: str, topic: str, group: str, count: int) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        seen = 0
        while seen < count:
            msg = consumer.poll(10)
            assert msg is not None, f"only {seen} of {count} messages arrived"
            assert msg.error() is None
            seen += 1
            consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()


def test_produce_and_consume_through_real_broker(kafka_bootstrap: str, unique_name: str) -> None:
    """Messages produced to a two-partition topic are all read back and counted in end offsets."""
    topic = f"{unique_name}-t"
    create_topic(kafka_bootstrap, topic, partitions=2)
    sent = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(20)]

    assert produce(kafka_bootstrap, topic, sent) == 20

    assert sorted(consume_all(kafka_bootstrap, topic, expected=20)) == sorted(sent)
    assert sum(end_offsets(kafka_bootstrap, topic).values()) == 20


def test_broker_restart_and_kill_keep_records_and_commits(own_kafka_broker: KafkaBroker, unique_name: str) -> None:
    """Records and committed offsets survive a graceful restart and a SIGKILL on the same port."""
    broker = own_kafka_broker
    topic, group = f"{unique_name}-t", f"{unique_name}-g"
    create_topic(broker.bootstrap, topic)
    produce(broker.bootstrap, topic, [(None, b"a"), (None, b"b"), (None, b"c")])
    _commit_all(broker.bootstrap, topic, group, count=3)
    bootstrap, pid = broker.bootstrap, broker.pid

    broker.restart()
    assert (broker.bootstrap, end_offsets(bootstrap, topic)) == (bootstrap, {0: 3})
    assert committed_offsets(bootstrap, group, topic) == {0: 3}
    assert broker.pid != pid

    produce(bootstrap, topic, [(None, b"d")])
    broker.kill()
    broker.start()
    assert end_offsets(bootstrap, topic) == {0: 4}
    assert committed_offsets(bootstrap, group, topic) == {0: 3}
    assert [value for _, value in consume_all(bootstrap, topic, expected=4)] == [b"a", b"b", b"c", b"d"]


def test_avro_round_trip_through_registry_and_broker(
    kafka_bootstrap: str, schema_registry_url: str, unique_name: str
) -> None:
    """confluent-kafka's AvroSerializer registers in the registry; a fresh AvroDeserializer decodes it."""
    topic = f"{unique_name}-avro"
    create_topic(kafka_bootstrap, topic)
    ctx = SerializationContext(topic, MessageField.VALUE)
    serializer = AvroSerializer(SchemaRegistryClient({"url": schema_registry_url}), USER_SCHEMA)
    payload = serializer({"id": "u1", "visits": 3}, ctx)
    assert payload is not None
    produce(kafka_bootstrap, topic, [(None, payload)])

    [(_, received)] = consume_all(kafka_bootstrap, topic, expected=1)
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": schema_registry_url}))

    assert deserializer(received, ctx) == {"id": "u1", "visits": 3}
    assert received is not None and received[0] == 0
    schema_id = int.from_bytes(received[1:5], "big")
    by_id = requests.get(f"{schema_registry_url}/schemas/ids/{schema_id}", timeout=10)
    assert by_id.status_code == 200
    assert json.loads(by_id.json()["schema"]) == json.loads(USER_SCHEMA)


def test_registry_restart_keeps_schema_ids(own_schema_registry: SchemaRegistry, unique_name: str) -> None:
    """A schema registered before a stop/start resolves by the same id and URL afterwards."""
    registry = own_schema_registry
    url = registry.url
    schema_id = SchemaRegistryClient({"url": url}).register_schema(f"{unique_name}-value", Schema(USER_SCHEMA, "AVRO"))

    registry.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/subjects", timeout=5)
    registry.start()

    fresh = SchemaRegistryClient({"url": url})
    assert registry.url == url
    assert fresh.get_schema(schema_id).schema_type == "AVRO"
    assert fresh.register_schema(f"{unique_name}-value", Schema(USER_SCHEMA, "AVRO")) == schema_id
