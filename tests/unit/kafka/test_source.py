"""KafkaSource's rebalance wiring, over a stand-in for confluent-kafka's Consumer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from confluent_kafka import TopicPartition as KafkaTP

from connector.config import KafkaSettings
from connector.kafka import source as source_module
from connector.kafka.source import KafkaSource
from connector.records import TopicPartition


class StandInConsumer:
    """Records subscribe()'s callbacks and every commit and resume."""

    def __init__(self, conf: dict[str, Any], logger: Any = None) -> None:
        self.conf = conf
        self.callbacks: dict[str, Any] = {}
        self.commits: list[Any] = []
        self.resumed: list[Any] = []

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks

    def commit(self, **kwargs: Any) -> None:
        self.commits.append(kwargs)

    def resume(self, parts: list[KafkaTP]) -> None:
        self.resumed += parts


class Listener:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[TopicPartition]]] = []

    def on_assigned(self, partitions: Sequence[TopicPartition]) -> None:
        self.calls.append(("assigned", list(partitions)))

    def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        self.calls.append(("revoked", list(partitions)))

    def on_lost(self, partitions: Sequence[TopicPartition]) -> None:
        self.calls.append(("lost", list(partitions)))


def test_lost_partitions_reach_on_lost_not_on_revoked(monkeypatch: pytest.MonkeyPatch) -> None:
    """librdkafka's on_lost (session lost: the partitions already have a new owner) is not a revocation:
    the listener's on_revoked would commit them. They come back unpaused all the same."""
    monkeypatch.setattr(source_module, "Consumer", StandInConsumer)
    src = KafkaSource(KafkaSettings("127.0.0.1:1", "g", ("t",)))
    listener = Listener()
    src.subscribe(listener)
    consumer: Any = src._consumer
    parts = [KafkaTP("t", 0), KafkaTP("t", 1)]
    consumer.callbacks["on_assign"](consumer, parts)
    consumer.callbacks["on_lost"](consumer, parts)
    consumer.callbacks["on_revoke"](consumer, parts[:1])
    tps = [TopicPartition("t", 0), TopicPartition("t", 1)]
    assert listener.calls == [("assigned", tps), ("lost", tps), ("revoked", tps[:1])]
    assert consumer.commits == []
    assert [(p.topic, p.partition) for p in consumer.resumed] == [("t", 0), ("t", 1), ("t", 0)]
