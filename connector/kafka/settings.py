"""librdkafka settings: user passthrough, with the connector's invariants pinned last."""

from __future__ import annotations

from typing import Any

from connector.config import KafkaSettings
from connector.observability.librdkafka import client_callbacks


def consumer_config(kafka: KafkaSettings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 45_000,
        "max.poll.interval.ms": 300_000,
        # The pre-fetch queue counts toward RSS: 8 MiB keeps a 1M-record backlog under 200 MB (64 MiB: 305 MB).
        "queued.max.messages.kbytes": 8_192,
        # A full queue postpones the partition's next fetch by this long (librdkafka: 1000 ms). A small
        # queue is full often, and a 1 s sleep each time starved the worker (docs/benchmarks.md).
        "fetch.queue.backoff.ms": 20,
        "log_level": 4,  # librdkafka's own stderr lines: warnings and worse
    }
    conf.update(kafka.consumer)
    conf.update(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": kafka.group_id,
            # Offsets are committed explicitly, only for records whose outcome is final.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )
    conf.update(client_callbacks("consumer", kafka.bootstrap_servers))  # librdkafka logs as structlog events
    return conf


def dead_letter_producer_config(kafka: KafkaSettings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "linger.ms": 20,
        "compression.type": "lz4",
        "log_level": 4,
        # A record too large for AEP must still fit in the dead-letter topic (see admin.DLQ_MAX_MESSAGE_BYTES).
        "message.max.bytes": 16 * 1024 * 1024,
    }
    conf.update(kafka.producer)
    conf.update(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            # A dead-letter write counts as final only once every in-sync replica has it.
            "acks": "all",
            "enable.idempotence": True,
        }
    )
    conf.update(client_callbacks("dead_letter_producer", kafka.bootstrap_servers))
    return conf
