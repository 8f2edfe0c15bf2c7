"""KafkaSource's rebalance wiring, over a stand-in for confluent-kafka's Consumer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from confluent_kafka import KafkaError
from confluent_kafka import TopicPartition as KafkaTP

from connector.config import KafkaSettings
from connector.errors import FatalError
from connector.kafka import source as source_module
from connector.kafka.source import KafkaSource
from connector.records import TopicPartition


class StandInConsumer:
    """Records subscribe()'s callbacks and every commit and resume; consume() hands out `errors`."""

    created: list[StandInConsumer] = []

    def __init__(self, conf: dict[str, Any], logger: Any = None) -> None:
        self.conf = conf
        self.callbacks: dict[str, Any] = {}
        self.commits: list[Any] = []
        self.resumed: list[Any] = []
        self.errors: list[KafkaError] = []
        self.closed = False
        StandInConsumer.created.append(self)

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        out, self.errors = [ErrorMessage(e) for e in self.errors], []
        return out

    def close(self) -> None:
        self.closed = True

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks

    def commit(self, **kwargs: Any) -> None:
        self.commits.append(kwargs)

    def resume(self, parts: list[KafkaTP]) -> None:
        self.resumed += parts


class ErrorMessage:
    def __init__(self, error: KafkaError) -> None:
        self._error = error

    def error(self) -> KafkaError:
        return self._error


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


# what librdkafka 2.16 reports when the broker has no KIP-848 (Kafka 4.1 with the consumer protocol disabled)
NO_KIP848 = KafkaError(
    KafkaError._FATAL,
    "Fatal error: Broker: API version not supported: "
    "ConsumerGroupHeartbeat fatal error: Broker: API version not supported",
)


def source(monkeypatch: pytest.MonkeyPatch, protocol: str) -> tuple[KafkaSource, Listener]:
    monkeypatch.setattr(source_module, "Consumer", StandInConsumer)
    StandInConsumer.created = []
    src = KafkaSource(KafkaSettings("127.0.0.1:1", "g", ("t",), group_protocol=protocol))
    listener = Listener()
    src.subscribe(listener)
    return src, listener


def test_auto_rejoins_with_cooperative_sticky_when_the_broker_lacks_kip848(monkeypatch: pytest.MonkeyPatch) -> None:
    src, listener = source(monkeypatch, "auto")
    first: Any = src._consumer
    assert first.conf["group.protocol"] == "consumer"
    first.errors = [NO_KIP848]
    assert src.poll_batch(10, 0.0) == []
    second: Any = src._consumer
    assert first.closed and second is not first and src.protocol == "classic"
    assert second.conf["partition.assignment.strategy"] == "cooperative-sticky"
    assert "group.protocol" not in second.conf
    second.callbacks["on_assign"](second, [KafkaTP("t", 0)])
    assert listener.calls == [("assigned", [TopicPartition("t", 0)])]


@pytest.mark.parametrize("protocol", ["consumer", "classic"])
def test_an_explicit_protocol_never_falls_back(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    src, _ = source(monkeypatch, protocol)
    src._consumer.errors = [NO_KIP848]
    with pytest.raises(FatalError, match="ConsumerGroupHeartbeat"):
        src.poll_batch(10, 0.0)
    assert len(StandInConsumer.created) == 1


def test_auto_does_not_fall_back_once_partitions_were_assigned(monkeypatch: pytest.MonkeyPatch) -> None:
    src, _ = source(monkeypatch, "auto")
    consumer: Any = src._consumer
    consumer.callbacks["on_assign"](consumer, [KafkaTP("t", 0)])
    consumer.errors = [NO_KIP848]
    with pytest.raises(FatalError):
        src.poll_batch(10, 0.0)


def test_librdkafka_fatal_event_stops_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """librdkafka reports a fatal error as an event with code _FATAL whose fatal() is False.

    It used to be logged as a warning on every poll while the unusable consumer read nothing.
    """
    src, _ = source(monkeypatch, "auto")
    fatal = KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced by other consumer")
    assert not fatal.fatal()
    src._consumer.errors = [fatal]
    with pytest.raises(FatalError, match="fenced"):
        src.poll_batch(10, 0.0)
