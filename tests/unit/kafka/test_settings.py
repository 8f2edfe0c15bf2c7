"""librdkafka consumer settings: the connector's defaults, user passthrough, pinned invariants."""

from __future__ import annotations

from connector.config import KafkaSettings
from connector.kafka.settings import consumer_config


def test_defaults_bound_the_prefetch_queue_without_fetch_stalls() -> None:
    """An 8 MiB pre-fetch queue (RSS) that is refilled 20 ms after it was full, not librdkafka's 1 s."""
    conf = consumer_config(KafkaSettings("b:9092", "g", ("t",)))
    assert conf["queued.max.messages.kbytes"] == 8_192
    assert conf["fetch.queue.backoff.ms"] == 20


def test_defaults_interleave_partitions_in_short_runs() -> None:
    """128 KiB per partition and fetch: librdkafka's 1 MiB handed out runs of ~12k records of one partition,
    which the worker (one request in flight per partition) could not spread over its lanes."""
    conf = consumer_config(KafkaSettings("b:9092", "g", ("t",)))
    assert conf["max.partition.fetch.bytes"] == 131_072
    user = consumer_config(KafkaSettings("b:9092", "g", ("t",), {"max.partition.fetch.bytes": 1_048_576}))
    assert user["max.partition.fetch.bytes"] == 1_048_576


def test_user_settings_override_defaults_but_not_invariants() -> None:
    """kafka.consumer passes through; auto commit and offset store stay off, group and servers stay pinned."""
    user = {"fetch.queue.backoff.ms": 5, "queued.max.messages.kbytes": 65_536, "enable.auto.commit": True,
            "group.id": "other"}
    conf = consumer_config(KafkaSettings("b:9092", "g", ("t",), user))
    assert (conf["fetch.queue.backoff.ms"], conf["queued.max.messages.kbytes"]) == (5, 65_536)
    assert (conf["enable.auto.commit"], conf["enable.auto.offset.store"], conf["group.id"]) == (False, False, "g")
