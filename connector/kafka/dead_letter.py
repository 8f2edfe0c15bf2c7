"""The dead-letter producer: original key, value and headers plus Kafka Connect's error headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Producer

from connector.config import KafkaSettings
from connector.errors import FatalError, RecordError
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


# Errors that retrying cannot fix: the producer may not write to the topic, or its idempotent state
# is broken. The worker stops (FatalError) instead of retrying them for ever.
FATAL_CODES = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED})
QUEUE_FULL_WAIT_S = 1.0  # at most this long blocked on a full local queue, then the write waits in the retry list

_Pending = tuple[float, SourceRecord, RecordError, "str | None", Callable[[], None]]


def _is_fatal(err: KafkaError) -> bool:
    return bool(err.fatal()) or err.code() in FATAL_CODES


class KafkaDeadLetters:
    """Produces dead letters; `on_written` runs from poll() once the broker acknowledged the write.

    A failed write is retried (never reported as written), so its source offset stays uncommitted.
    A write the broker can never accept for this producer (authorization, a fatal idempotence
    error) raises FatalError from send/poll/flush. A full local queue (broker away) blocks `send`
    for at most QUEUE_FULL_WAIT_S; the write then waits in the retry list, so the poll thread keeps
    well within max.poll.interval.ms.
    """

    def __init__(self, kafka: KafkaSettings, topic: str, producer: Any = None) -> None:
        self._topic = topic
        if producer is None:
            conf = dead_letter_producer_config(kafka)
            logged = conf.get("error_cb")  # librdkafka's errors as structured, rate-limited log events

            def on_error(err: KafkaError) -> None:
                if logged is not None:
                    logged(err)
                self._on_error(err)

            conf["error_cb"] = on_error
            producer = Producer(conf)
        self._producer = producer
        self._retry: list[_Pending] = []
        self._full_until = 0.0  # while the local queue is known full, writes go straight to the retry list
        self._fatal: FatalError | None = None
        self.written = 0

    def send(
        self, record: SourceRecord, error: RecordError, on_written: Callable[[], None], mapping: str | None = None
    ) -> None:
        self._raise_fatal()
        full = time.monotonic() < self._full_until
        if full or not self._produce(record, error, mapping, on_written, QUEUE_FULL_WAIT_S):
            self._later(0.0, record, error, mapping, on_written)

    def _produce(
        self,
        record: SourceRecord,
        error: RecordError,
        mapping: str | None,
        on_written: Callable[[], None],
        wait_s: float,
    ) -> bool:
        """Hand one write to librdkafka; False when its queue stayed full for `wait_s`."""
        headers: list[tuple[str, str | bytes | None]] = list(record.headers)
        headers += error_headers(record, error, mapping, time.time())

        def delivered(err: KafkaError | None, _: Any) -> None:
            if err is None:
                self.written += 1
                on_written()
            elif _is_fatal(err):
                self._fail(err)
            else:
                log.warning("dead_letter_write_failed", error=err.str(), topic=record.topic, offset=record.offset)
                self._later(1.0, record, error, mapping, on_written)

        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._producer.produce(
                    self._topic, value=record.value, key=record.key, headers=headers, on_delivery=delivered
                )
                return True
            except BufferError:
                if time.monotonic() >= deadline:
                    self._full_until = time.monotonic() + 1.0
                    log.warning("dead_letter_queue_full", topic=record.topic, waiting=len(self._retry) + 1)
                    return False
                self._producer.poll(0.1)
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is not None and _is_fatal(err):
                    self._fail(err)
                    self._raise_fatal()
                # e.g. MSG_SIZE_TOO_LARGE: never drop, never crash; the partition waits and the log says why.
                log.error("dead_letter_write_refused", error=str(exc), topic=record.topic, offset=record.offset)
                self._later(5.0, record, error, mapping, on_written)
                return True

    def _later(
        self, delay: float, record: SourceRecord, error: RecordError, mapping: str | None, cb: Callable[[], None]
    ) -> None:
        self._retry.append((time.monotonic() + delay, record, error, mapping, cb))

    def _on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (from poll/flush): only fatal errors matter, the rest it retries."""
        if err.fatal():
            self._fail(err)

    def _fail(self, err: KafkaError) -> None:
        if self._fatal is None:
            self._fatal = FatalError(
                f"dead-letter producer for topic {self._topic} failed for good: {err.name()} ({err.str()}); "
                "check the principal's Write (and IdempotentWrite) ACLs on the dead-letter topic"
            )
            log.error("dead_letter_producer_fatal", error=err.str(), code=err.name())

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def poll(self) -> None:
        self._producer.poll(0)
        self._raise_fatal()
        if self._retry and time.monotonic() >= self._full_until:
            now = time.monotonic()
            due = [r for r in self._retry if r[0] <= now]
            self._retry = [r for r in self._retry if r[0] > now]
            for i, (_, record, error, mapping, cb) in enumerate(due):
                if not self._produce(record, error, mapping, cb, 0.0):  # still full: the rest waits too
                    self._retry += due[i:]
                    break

    def flush(self, timeout: float) -> int:
        remaining: int = self._producer.flush(timeout)
        self.poll()
        return remaining + len(self._retry)
