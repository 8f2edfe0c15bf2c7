"""The dead-letter producer: original key, value and headers plus Kafka Connect's error headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Producer

from connector.config import KafkaSettings
from connector.errors import RecordError
from connector.kafka.settings import dead_letter_producer_config
from connector.records import SourceRecord

log = structlog.get_logger(__name__)

# Kafka Connect's names, so existing DLQ tooling reads them; then our own.
H_TOPIC = "__connect.errors.topic"
H_PARTITION = "__connect.errors.partition"
H_OFFSET = "__connect.errors.offset"
H_CLASS = "__connect.errors.exception.class.name"
H_MESSAGE = "__connect.errors.exception.message"
H_REASON = "__aep.errors.reason"
H_STAGE = "__aep.errors.stage"
H_HTTP_STATUS = "__aep.errors.http.status"
H_MAPPING = "__aep.errors.mapping"
H_TIME = "__aep.errors.timestamp"
# Dead letters of records AEP failed asynchronously (`aep-connector failures --dead-letter`):
H_FAILED_RECORD = "__aep.errors.failed_record"  # <batch id>/<file>/<line>: which failed record it was
H_PAYLOAD = "__aep.errors.payload"  # "xdm-message" when the value is the message AEP failed, not the Kafka record
ERROR_HEADERS = frozenset(
    {
        H_TOPIC, H_PARTITION, H_OFFSET, H_CLASS, H_MESSAGE, H_REASON, H_STAGE, H_HTTP_STATUS, H_MAPPING, H_TIME,
        H_FAILED_RECORD, H_PAYLOAD,
    }
)  # fmt: skip
_MAX_MESSAGE = 4_000


def error_headers(record: SourceRecord, error: RecordError, mapping: str | None, now: float) -> list[tuple[str, bytes]]:
    cls = type(error)
    headers = [
        (H_TOPIC, record.topic.encode()),
        (H_PARTITION, str(record.partition).encode()),
        (H_OFFSET, str(record.offset).encode()),
        (H_CLASS, f"{cls.__module__}.{cls.__qualname__}".encode()),
        (H_MESSAGE, error.message[:_MAX_MESSAGE].encode("utf-8", "replace")),
        (H_REASON, error.reason.encode()),
        (H_STAGE, error.stage.encode()),
        (H_TIME, str(int(now * 1000)).encode()),
    ]
    if error.http_status is not None:
        headers.append((H_HTTP_STATUS, str(error.http_status).encode()))
    if mapping:
        headers.append((H_MAPPING, mapping.encode()))
    return headers


class KafkaDeadLetters:
    """Produces dead letters; `on_written` runs from poll() once the broker acknowledged the write.

    A failed write is retried (never reported as written), so its source offset stays uncommitted.
    """

    def __init__(self, kafka: KafkaSettings, topic: str, producer: Any = None) -> None:
        self._topic = topic
        self._producer = producer or Producer(dead_letter_producer_config(kafka))
        self._retry: list[tuple[float, SourceRecord, RecordError, str | None, Callable[[], None]]] = []
        self.written = 0

    def send(
        self, record: SourceRecord, error: RecordError, on_written: Callable[[], None], mapping: str | None = None
    ) -> None:
        headers: list[tuple[str, str | bytes | None]] = list(record.headers)
        headers += error_headers(record, error, mapping, time.time())

        def delivered(err: KafkaError | None, _: Any) -> None:
            if err is None:
                self.written += 1
                on_written()
                return
            log.warning("dead_letter_write_failed", error=err.str(), topic=record.topic, offset=record.offset)
            self._retry.append((time.monotonic() + 1.0, record, error, mapping, on_written))

        while True:
            try:
                self._producer.produce(
                    self._topic, value=record.value, key=record.key, headers=headers, on_delivery=delivered
                )
                return
            except BufferError:
                self._producer.poll(0.1)
            except KafkaException as exc:
                # e.g. MSG_SIZE_TOO_LARGE: never drop, never crash; the partition waits and the log says why.
                log.error("dead_letter_write_refused", error=str(exc), topic=record.topic, offset=record.offset)
                self._retry.append((time.monotonic() + 5.0, record, error, mapping, on_written))
                return

    def poll(self) -> None:
        self._producer.poll(0)
        if self._retry:
            now = time.monotonic()
            due = [r for r in self._retry if r[0] <= now]
            self._retry = [r for r in self._retry if r[0] > now]
            for _, record, error, mapping, cb in due:
                self.send(record, error, cb, mapping)

    def flush(self, timeout: float) -> int:
        remaining: int = self._producer.flush(timeout)
        self.poll()
        return remaining + len(self._retry)
