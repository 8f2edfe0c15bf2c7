"""librdkafka settings: user passthrough, with the connector's invariants pinned last."""

from __future__ import annotations

from typing import Any

from connector.config import CONSUMER_ONLY_CONSUMER_KEYS, KafkaSettings
from connector.observability.librdkafka import client_callbacks


def group_protocol(kafka: KafkaSettings) -> str:
    """The group protocol a worker joins with first: `consumer` (KIP-848) unless `classic` was chosen."""
    return "classic" if kafka.group_protocol == "classic" else "consumer"


def consumer_config(kafka: KafkaSettings, protocol: str | None = None) -> dict[str, Any]:
    """The consumer's librdkafka settings for `protocol` (`consumer` or `classic`; default: group_protocol()).

    Both protocols rebalance incrementally: a membership change moves only the partitions that
    change owner (docs/rebalancing.md). `consumer` is KIP-848: the broker assigns and times sessions
    out, so the classic-only settings are left out. `classic` uses cooperative-sticky (KIP-429)
    unless kafka.consumer names another strategy (`range` or `roundrobin`: eager, every member
    gives up everything at each rebalance).
    """
    protocol = protocol or group_protocol(kafka)
    conf: dict[str, Any] = {
        "auto.offset.reset": "earliest",
        "max.poll.interval.ms": 300_000,
        # The pre-fetch queue counts toward RSS: 8 MiB keeps a 1M-record backlog under 200 MB (64 MiB: 305 MB).
        "queued.max.messages.kbytes": 8_192,
        # A full queue postpones the partition's next fetch by this long (librdkafka: 1000 ms). A small
        # queue is full often, and a 1 s sleep each time starved the worker (docs/benchmarks.md).
        "fetch.queue.backoff.ms": 20,
        # librdkafka hands out a partition's records in runs of one fetch response, up to this many
        # (compressed) bytes. The worker keeps one request in flight per partition (order), so a run
        # of ~12k compressible records (librdkafka's 1 MiB) left 3 lanes idle and closed the poll gate
        # on the fourth for ~20 % of a run (docs/benchmarks.md); 128 KiB interleaves the partitions.
        "max.partition.fetch.bytes": 131_072,
        "log_level": 4,  # librdkafka's own stderr lines: warnings and worse
    }
    user = dict(kafka.consumer)
    if protocol == "classic":
        conf.update({"session.timeout.ms": 45_000, "partition.assignment.strategy": "cooperative-sticky"})
        for key in CONSUMER_ONLY_CONSUMER_KEYS:  # set for `auto`, which fell back to classic
            user.pop(key, None)
    else:
        conf["group.protocol"] = "consumer"
    conf.update(user)
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
