"""The consumer-group member: confluent-kafka Consumer behind the RecordSource protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTP

from connector.config import KafkaSettings
from connector.errors import FatalError
from connector.interfaces import RebalanceListener
from connector.kafka.settings import consumer_config
from connector.records import SourceRecord, TopicPartition

log = structlog.get_logger(__name__)


_new_record = tuple.__new__


def to_record(msg: Any) -> SourceRecord:
    """confluent-kafka Message -> SourceRecord (hot path: typed as Any to skip casts, built as a tuple)."""
    ts_type, ts = msg.timestamp()
    headers = msg.headers()
    return _new_record(
        SourceRecord,
        (
            msg.topic(),
            msg.partition(),
            msg.offset(),
            msg.key(),
            msg.value(),
            tuple(headers) if headers else (),
            ts if ts_type != 0 else None,
        ),
    )


class KafkaSource:
    """Subscribes to topic names and ^regexes; never auto-commits."""

    def __init__(self, kafka: KafkaSettings, extra: dict[str, Any] | None = None) -> None:
        conf = consumer_config(kafka)
        if extra:
            conf.update(extra)
        self._topics = list(kafka.topics)
        self._consumer = Consumer(conf)
        self._listener: RebalanceListener | None = None

    def subscribe(self, listener: RebalanceListener) -> None:
        self._listener = listener

        def on_assign(_: Any, parts: list[KafkaTP]) -> None:
            listener.on_assigned([TopicPartition(p.topic, p.partition) for p in parts])

        def unpause(consumer: Any, parts: list[KafkaTP]) -> None:
            # librdkafka keeps a partition's pause across revocation and re-assignment, while the
            # listener forgets its pauses on revocation: a partition paused when it was revoked
            # would come back paused and never be fetched again. It comes back unpaused.
            try:
                consumer.resume(parts)
            except KafkaException as exc:
                log.warning("resume_on_revoke_failed", error=str(exc), partitions=len(parts))

        def on_revoke(consumer: Any, parts: list[KafkaTP]) -> None:
            try:
                listener.on_revoked([TopicPartition(p.topic, p.partition) for p in parts])
            finally:
                unpause(consumer, parts)

        def on_lost(consumer: Any, parts: list[KafkaTP]) -> None:
            # the partitions already belong to another member: no commit, only forget them
            try:
                listener.on_lost([TopicPartition(p.topic, p.partition) for p in parts])
            finally:
                unpause(consumer, parts)

        self._consumer.subscribe(self._topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    def poll_batch(self, max_records: int, timeout: float) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        for msg in self._consumer.consume(num_messages=max_records, timeout=timeout):
            err = msg.error()
            if err is None:
                out.append(to_record(msg))
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal():
                raise FatalError(f"Kafka consumer fatal error: {err.str()}")
            else:
                log.warning("kafka_consumer_error", code=err.name(), error=err.str(), retriable=err.retriable())
        return out

    def commit(self, offsets: dict[TopicPartition, int], asynchronous: bool) -> None:
        if not offsets:
            return
        parts = [KafkaTP(tp.topic, tp.partition, off) for tp, off in offsets.items()]
        try:
            if asynchronous:
                self._consumer.commit(offsets=parts, asynchronous=True)
            else:
                self._consumer.commit(offsets=parts, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the records will be redelivered and deduplicated downstream (at-least-once).
            log.warning("commit_failed", error=str(exc), partitions=len(parts))

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        if partitions:
            self._consumer.pause([KafkaTP(tp.topic, tp.partition) for tp in partitions])

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        if partitions:
            self._consumer.resume([KafkaTP(tp.topic, tp.partition) for tp in partitions])

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._consumer.seek(KafkaTP(tp.topic, tp.partition, offset))

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(p.topic, p.partition) for p in self._consumer.assignment()]

    def close(self) -> None:
        self._consumer.close()
