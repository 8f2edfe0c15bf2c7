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
from connector.kafka.settings import consumer_config, group_protocol
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


def unsupported_group_protocol(err: Any) -> bool:
    """librdkafka's fatal error when the broker lacks KIP-848 (no ConsumerGroupHeartbeat API, or disabled)."""
    text = str(err.str())
    return "ConsumerGroupHeartbeat" in text and "support" in text.lower()


class KafkaSource:
    """Subscribes to topic names and ^regexes; never auto-commits.

    Rebalances are incremental with either group protocol (the callbacks name only the partitions
    that move; confluent-kafka applies them with incremental_assign/incremental_unassign once the
    callback returns). With kafka.group_protocol `auto` the worker joins with KIP-848's `consumer`
    protocol and, if the broker answers that it does not support it before any partition was
    assigned, joins again with `classic` (cooperative-sticky), saying so in one warning.
    """

    def __init__(self, kafka: KafkaSettings, extra: dict[str, Any] | None = None) -> None:
        self._kafka = kafka
        self._extra = extra or {}
        self.protocol = group_protocol(kafka)  # the protocol of the current consumer
        self._topics = list(kafka.topics)
        self._consumer = self._new_consumer()
        self._listener: RebalanceListener | None = None
        self._callbacks: dict[str, Any] = {}
        self._assigned = False  # a partition was ever assigned: the protocol works, no fallback after that

    def _new_consumer(self) -> Any:
        conf = consumer_config(self._kafka, self.protocol)
        conf.update(self._extra)
        return Consumer(conf)

    def subscribe(self, listener: RebalanceListener) -> None:
        self._listener = listener
        log.info("kafka_group_protocol", protocol=self.protocol, configured=self._kafka.group_protocol)

        def on_assign(_: Any, parts: list[KafkaTP]) -> None:
            self._assigned = self._assigned or bool(parts)
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

        self._callbacks = {"on_assign": on_assign, "on_revoke": on_revoke, "on_lost": on_lost}
        self._consumer.subscribe(self._topics, **self._callbacks)

    def _fall_back_to_classic(self, err: Any) -> bool:
        """Under `auto`, rejoin with the classic protocol if the broker refused KIP-848 before any assignment."""
        if self._kafka.group_protocol != "auto" or self.protocol != "consumer" or self._assigned:
            return False
        if not unsupported_group_protocol(err):
            return False
        log.warning(
            "group_protocol_fallback", protocol="classic", assignor="cooperative-sticky", error=err.str(),
            hint="the broker does not support the KIP-848 consumer group protocol (Kafka 4.0+ enables it); "
            "set kafka.group_protocol: classic to join with it directly",
        )  # fmt: skip
        old = self._consumer
        self.protocol = "classic"
        self._consumer = self._new_consumer()
        try:
            old.close()
        except KafkaException as exc:
            log.info("consumer_close_failed", error=str(exc))
        self._consumer.subscribe(self._topics, **self._callbacks)
        return True

    def poll_batch(self, max_records: int, timeout: float) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        for msg in self._consumer.consume(num_messages=max_records, timeout=timeout):
            err = msg.error()
            if err is None:
                out.append(to_record(msg))
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal() or err.code() == KafkaError._FATAL:
                # librdkafka reports its fatal error as an event with code _FATAL (fatal() is False
                # on it); the consumer is unusable after it
                if self._fall_back_to_classic(err):
                    return out
                raise FatalError(f"Kafka consumer fatal error: {err.str()}")
            elif err.code() == KafkaError.INCONSISTENT_GROUP_PROTOCOL:
                # librdkafka retries the join; the group's other members use an assignor this one lacks
                log.warning(
                    "kafka_consumer_error", code=err.name(), error=err.str(), retriable=True,
                    hint="members of the group use another partition assignment strategy (an eager one from an "
                    "older version?); this worker joins once they leave (docs/rebalancing.md, upgrading)",
                )  # fmt: skip
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
