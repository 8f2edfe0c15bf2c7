"""The consumer's defaults hand out the partitions interleaved, so every lane of the worker has work.

The worker sends at most one request per partition at a time (offset order), so records of one
partition are delivered one batch after another. librdkafka hands out a partition's records in runs
of a whole fetch response: with its 1 MiB `max.partition.fetch.bytes`, ~12k compressible records of
one partition in a row. Such a run is more than a partition's share of the buffer
(`max_buffered_records` / partitions = 2,500 by default), so the poll gate closed while the lanes of
the other partitions stood idle: about a fifth of the bench run. The connector's default interleaves
the partitions in runs well below that share; librdkafka's own default does not (the control).
"""

from __future__ import annotations

import random

import orjson
import pytest
from confluent_kafka import Consumer, Producer

from connector.config import BatchingSettings, KafkaSettings
from connector.kafka.settings import consumer_config
from tests.harness.kafka_broker import create_topic

pytestmark = pytest.mark.integration

PARTITIONS = 4
RECORDS = 60_000


def _produce(bootstrap: str, topic: str) -> None:
    """~1 KB JSON events that lz4 shrinks about 3x (as real events do), in large batches."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000,
                         "compression.type": "lz4", "queue.buffering.max.kbytes": 262_144})
    rng = random.Random(7)
    words = [f"w{i:02d}x" + "abcdefgh"[i % 8] * (i % 5) for i in range(64)]
    for i in range(RECORDS):
        text = " ".join(rng.choices(words, k=140))
        value = orjson.dumps({"n": i, "email": f"user{i % 97}@example.com", "ts": "2024-05-01T10:00:00Z", "text": text})
        while True:
            try:
                producer.produce(topic, value=value, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def _longest_run(conf: dict[str, object], topic: str) -> int:
    """The longest run of consecutive records of one partition that consume() hands out."""
    consumer = Consumer(conf)
    consumer.subscribe([topic])
    longest, run, seen = 0, 0, 0
    last: int | None = None
    try:
        while seen < RECORDS:
            msgs = consumer.consume(1_000, 5.0)
            assert msgs, f"no records after {seen} of {RECORDS}"
            for m in msgs:
                assert m.error() is None, m.error()
                seen += 1
                run = run + 1 if m.partition() == last else 1
                last = m.partition()
                longest = max(longest, run)
    finally:
        consumer.close()
    return longest


def test_the_default_consumer_interleaves_partitions_below_their_buffer_share(
    kafka_bootstrap: str, unique_name: str
) -> None:
    create_topic(kafka_bootstrap, unique_name, PARTITIONS)
    _produce(kafka_bootstrap, unique_name)
    share = BatchingSettings().max_buffered_records // PARTITIONS
    conf = consumer_config(KafkaSettings(kafka_bootstrap, f"{unique_name}-connector", (unique_name,)))
    connector = _longest_run(conf, unique_name)
    librdkafka = _longest_run({**conf, "group.id": f"{unique_name}-librdkafka", "max.partition.fetch.bytes": 1_048_576},
                              unique_name)
    print(f"longest run of one partition: {connector} (connector), {librdkafka} (librdkafka default); share {share}")
    assert connector <= share // 2, f"runs of {connector} records of one partition (share {share})"
    assert librdkafka > share, f"control: librdkafka's 1 MiB default gave runs of only {librdkafka}"
