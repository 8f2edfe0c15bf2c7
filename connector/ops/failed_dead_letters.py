"""Failed records AEP found asynchronously -> the dead-letter topic, so `dlq replay` works on them.

Each failed record (skipped when the topic already holds it: same `__aep.errors.failed_record`)
is written as:
  - its Kafka record, when `header.msgId` names one (`topic/partition/offset`) that can still be
    read: original key, value and headers, plus the usual error headers (reason
    `aep-async-invalid`, stage `aep-async`, the source topic, partition and offset). `dlq replay`
    re-publishes it to its source topic, where the fixed mapping maps it again;
  - else, when the failed file holds the message: the XDM message AEP failed, with the error
    headers but no source topic and `__aep.errors.payload: xdm-message`; `dlq replay` passes it
    over unless `--to TOPIC` names where it should go;
  - else (the file holds only the errors): not written; listed as unrecoverable.
Writes use the dead-letter producer settings (acks=all, idempotent) and are flushed before the
report says they were written.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka import TopicPartition as KafkaTP

from connector.config import KafkaSettings
from connector.errors import RecordError, RetriableError
from connector.kafka.dead_letter import (
    H_CLASS,
    H_FAILED_RECORD,
    H_MAPPING,
    H_MESSAGE,
    H_PAYLOAD,
    H_REASON,
    H_STAGE,
    H_TIME,
    error_headers,
)
from connector.kafka.settings import dead_letter_producer_config
from connector.numbers import json_bytes
from connector.ops.clients import connection_config
from connector.ops.dlq import header_values
from connector.ops.failures import FailedRecord
from connector.records import SourceRecord

REASON = "aep-async-invalid"
Origin = tuple[str, int, int]
_SEEK_GAP = 500  # consume forward over gaps up to this many offsets instead of seeking


class AsyncInvalidError(RecordError):
    """AEP accepted the record, then its streaming validation failed it (a failed batch record)."""

    stage = "aep-async"


@dataclass(slots=True)
class DeadLetterReport:
    topic: str
    original: int = 0
    message: int = 0
    already: int = 0
    unrecoverable: list[str] = field(default_factory=list)


def _source_record(msg: Any) -> SourceRecord:
    ts_type, ts = msg.timestamp()
    headers = tuple((k, v.encode() if isinstance(v, str) else v) for k, v in (msg.headers() or []))
    return SourceRecord(
        msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), headers, ts if ts_type else None
    )


def read_originals(
    kafka: KafkaSettings, origins: Sequence[Origin], timeout_s: float = 10.0
) -> dict[Origin, SourceRecord]:
    """The Kafka records at these coordinates that can still be read (retention may have removed some)."""
    conf = connection_config(kafka)
    conf.update(
        {
            "group.id": f"aep-connector-failures-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    consumer = Consumer(conf, logger=None)
    found: dict[Origin, SourceRecord] = {}
    by_tp: dict[tuple[str, int], list[int]] = {}
    for topic, partition, offset in set(origins):
        by_tp.setdefault((topic, partition), []).append(offset)
    try:
        for (topic, partition), offsets in by_tp.items():
            wanted = set(offsets)
            position: int | None = None
            for offset in sorted(wanted):
                if (topic, partition, offset) in found:
                    continue
                if position is None or offset < position or offset - position > _SEEK_GAP:
                    consumer.assign([KafkaTP(topic, partition, offset)])
                position = _read_until(consumer, (topic, partition, offset), wanted, found, timeout_s)
    finally:
        consumer.close()
    return found


def _read_until(
    consumer: Any, target: Origin, wanted: set[int], found: dict[Origin, SourceRecord], timeout_s: float
) -> int | None:
    """Consume until `target` is read or passed; keep every wanted record seen. Returns the next position."""
    topic, partition, offset = target
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            if err.code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                return None
            raise RetriableError(f"reading {topic}[{partition}]: {err.str()}")
        if msg.offset() in wanted:
            found[(topic, partition, msg.offset())] = _source_record(msg)
        if msg.offset() >= offset:
            return int(msg.offset()) + 1
    return None


def _message_headers(rec: FailedRecord, error: AsyncInvalidError, mapping: str | None) -> list[tuple[str, bytes]]:
    """The error headers of a dead letter whose value is the XDM message, not a Kafka record."""
    cls = type(error)
    headers = [
        (H_CLASS, f"{cls.__module__}.{cls.__qualname__}".encode()),
        (H_MESSAGE, error.message[:4000].encode("utf-8", "replace")),
        (H_REASON, error.reason.encode()),
        (H_STAGE, error.stage.encode()),
        (H_TIME, str(int(time.time() * 1000)).encode()),
        (H_PAYLOAD, b"xdm-message"),
    ]
    if mapping:
        headers.append((H_MAPPING, mapping.encode()))
    return headers


def dead_letter(
    records: Sequence[FailedRecord],
    kafka: KafkaSettings,
    topic: str,
    *,
    mapping_of: Callable[[FailedRecord], str | None] = lambda _: None,
    since_ms: int | None = None,
    timeout_s: float = 30.0,
) -> DeadLetterReport:
    """Write `records` to the dead-letter `topic` (see the module docstring); returns what was written."""
    report = DeadLetterReport(topic)
    done = header_values(kafka, topic, H_FAILED_RECORD, since_ms=since_ms)
    todo = [r for r in records if r.key not in done]
    report.already = len(records) - len(todo)
    originals = read_originals(kafka, [o for r in todo if (o := r.origin) is not None])
    producer = Producer(dead_letter_producer_config(kafka), logger=None)
    failures: list[str] = []

    def delivered(err: KafkaError | None, _: Any) -> None:
        if err is not None:
            failures.append(err.str())

    for rec in todo:
        error = AsyncInvalidError(REASON, f"AEP failed this record in batch {rec.batch_id}: {rec.describe()}")
        original = originals.get(rec.origin) if rec.origin else None
        mapping = mapping_of(rec)
        if original is not None:
            value, key = original.value, original.key
            headers: list[tuple[str, str | bytes | None]] = list(original.headers)
            headers += error_headers(original, error, mapping, time.time())
            report.original += 1
        elif rec.message is not None:
            value, key = json_bytes(rec.message), None
            headers = list(_message_headers(rec, error, mapping))
            report.message += 1
        else:
            report.unrecoverable.append(rec.key)
            continue
        headers.append((H_FAILED_RECORD, rec.key.encode()))
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(timeout_s)
    if left or failures:
        raise RetriableError(
            f"{left} dead letters unacknowledged, {len(failures)} failed ({failures[:3]}); run again: "
            "records already written are recognised and not written twice"
        )
    return report
