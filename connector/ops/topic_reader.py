"""Read a few records of a topic without committing and without joining the worker's group.

The consumer `assign()`s partitions at explicit offsets (no subscription, so no group join and
no rebalance of the running workers) under its own group id `<group>.preview` with auto-commit
off, and never commits. The worker group's committed offsets (for `start="committed"`) are read
the way the lag gauges read them (connector.ops.lag.ConsumerCommitted: a consumer with that
group id that never subscribes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTP

from connector.config import KafkaSettings
from connector.errors import ConfigError, RetriableError
from connector.kafka.source import to_record
from connector.observability.librdkafka import client_callbacks, list_topics_polling
from connector.ops.clients import connection_config
from connector.ops.lag import ConsumerCommitted
from connector.records import SourceRecord

Start = Literal["earliest", "latest", "committed"]
STARTS: tuple[str, ...] = ("earliest", "latest", "committed")


def start_offsets(
    partitions: list[int], limit: int, start: Start, watermarks: Callable[[int], tuple[int, int]],
    committed: Callable[[list[int]], dict[int, int]],
) -> dict[int, tuple[int, int]]:  # fmt: skip
    """partition -> (first offset to read, high watermark), only for partitions with something to read."""
    marks = {p: watermarks(p) for p in partitions}
    done = committed(partitions) if start == "committed" else {}
    out: dict[int, tuple[int, int]] = {}
    for p, (low, high) in marks.items():
        if start == "earliest":
            first = low
        elif start == "latest":
            first = max(low, high - limit)
        else:
            first = max(low, done.get(p, low))
        if first < high:
            out[p] = (first, high)
    return out


class TopicReader:
    def __init__(self, kafka: KafkaSettings, timeout_s: float = 15.0) -> None:
        self._kafka = kafka
        self._timeout = timeout_s
        conf = connection_config(kafka)
        self._conf = conf
        self._topic = ""
        self._consumer = Consumer(
            {
                **conf,
                "group.id": f"{kafka.group_id}.preview",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": False,
                **client_callbacks("preview", kafka.bootstrap_servers),
            }
        )

    def read(self, topic: str, limit: int, start: Start = "earliest") -> list[SourceRecord]:
        """Up to `limit` records (the newest ones for "latest"); ConfigError if the topic does not exist."""
        try:
            meta = list_topics_polling(self._consumer, self._timeout, topic=topic)
        except KafkaException as exc:
            raise RetriableError(f"cannot reach Kafka at {self._kafka.bootstrap_servers}: {exc}") from None
        found = meta.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise ConfigError([f"topic {topic!r} does not exist on {self._kafka.bootstrap_servers}"])
        ranges = start_offsets(sorted(found.partitions), limit, start, self._watermarks(topic), self._committed(topic))
        if not ranges:
            return []
        self._topic = topic
        self._consumer.assign([KafkaTP(topic, p, first) for p, (first, _) in ranges.items()])
        records = self._consume(ranges, limit if start != "latest" else limit * len(ranges))
        if start == "latest":
            records.sort(key=lambda r: (r.timestamp_ms or 0, r.partition, r.offset))
            return records[-limit:]
        return records[:limit]

    def close(self) -> None:
        self._consumer.close()

    def _watermarks(self, topic: str) -> Callable[[int], tuple[int, int]]:
        def marks(p: int) -> tuple[int, int]:
            low, high = self._consumer.get_watermark_offsets(KafkaTP(topic, p), timeout=self._timeout)
            return int(low), int(high)

        return marks

    def _committed(self, topic: str) -> Callable[[list[int]], dict[int, int]]:
        def read(partitions: list[int]) -> dict[int, int]:
            reader = ConsumerCommitted(self._conf, self._timeout)
            try:
                found = reader(self._kafka.group_id, [(topic, p) for p in partitions])
            finally:
                reader.close()
            return {p: off for (_, p), off in found.items()}

        return read

    def _consume(self, ranges: dict[int, tuple[int, int]], wanted: int) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        pending = {p for p, (first, high) in ranges.items() if first < high}
        deadline = time.monotonic() + self._timeout
        while pending and len(out) < wanted and time.monotonic() < deadline:
            batch = self._consumer.consume(num_messages=min(500, wanted - len(out)), timeout=0.5)
            if not batch:  # control records (transactions) can sit at the end: ask where the consumer is
                for tp in self._consumer.position([KafkaTP(self._topic, p) for p in pending]):
                    if tp.offset >= ranges[tp.partition][1]:
                        pending.discard(tp.partition)
            for msg in batch:
                err: Any = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise RetriableError(f"reading {msg.topic()}: {err.str()}")
                    continue
                record = to_record(msg)
                out.append(record)
                if record.offset >= ranges[record.partition][1] - 1:
                    pending.discard(record.partition)
        return out
