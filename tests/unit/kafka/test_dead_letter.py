"""KafkaDeadLetters over a fake producer: fatal errors stop the worker, a full queue never blocks for long."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from connector.config import KafkaSettings
from connector.errors import DecodeError, FatalError
from connector.kafka.dead_letter import KafkaDeadLetters
from connector.records import SourceRecord

KAFKA = KafkaSettings("127.0.0.1:1", "g", ("t",))
RECORD = SourceRecord("t", 0, 7, b"k", b"v", (("h", b"1"),), 1)
ERROR = DecodeError("invalid-json", "not JSON")


class FakeProducer:
    """Keeps delivery callbacks until poll(); `full` makes produce() raise BufferError; `answer` is the broker's."""

    def __init__(self) -> None:
        self.produced: list[dict[str, Any]] = []
        self.pending: list[Callable[[KafkaError | None, Any], None]] = []
        self.answer: KafkaError | None = None
        self.full = threading.Event()
        self.refuse: KafkaException | None = None
        self.polls = 0
        self.attempts = 0

    def produce(self, topic: str, *, on_delivery: Callable[[KafkaError | None, Any], None], **fields: Any) -> None:
        self.attempts += 1
        if self.refuse is not None:
            raise self.refuse
        if self.full.is_set():
            raise BufferError("Local: Queue full")
        self.produced.append({"topic": topic, **fields})
        self.pending.append(on_delivery)

    def poll(self, timeout: float) -> int:
        self.polls += 1
        if self.full.is_set() and timeout:
            time.sleep(min(timeout, 0.05))
        pending, self.pending = self.pending, []
        for cb in pending:
            cb(self.answer, None)
        return len(pending)

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return 0


def make() -> tuple[KafkaDeadLetters, FakeProducer, list[int]]:
    producer = FakeProducer()
    written: list[int] = []
    return KafkaDeadLetters(KAFKA, "dlq", producer=producer), producer, written


def test_acknowledged_write_runs_the_callback_from_poll() -> None:
    """on_written runs from poll(), once the broker acknowledged the write, with the original bytes."""
    dlq, producer, written = make()
    dlq.send(RECORD, ERROR, lambda: written.append(1))
    assert written == []
    dlq.poll()
    assert written == [1] and producer.produced[0]["value"] == b"v" and producer.produced[0]["key"] == b"k"


def test_failed_write_is_retried_never_reported_written() -> None:
    """A transient broker error keeps the offset uncommitted and produces the record again later."""
    dlq, producer, written = make()
    producer.answer = KafkaError(KafkaError._MSG_TIMED_OUT, "timed out")
    dlq.send(RECORD, ERROR, lambda: written.append(1))
    dlq.poll()
    assert written == [] and dlq.flush(0) == 1


@pytest.mark.parametrize(
    "error",
    [
        KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Broker: Topic authorization failed"),
        KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED, "Broker: Cluster authorization failed"),
        KafkaError(KafkaError._FATAL, "Fatal idempotence error: out of order sequence", fatal=True),
    ],
)
def test_fatal_producer_error_raises_instead_of_retrying_for_ever(error: KafkaError) -> None:
    """Authorization and fatal idempotence errors can never succeed: poll and flush raise FatalError, once
    and every time after, so the worker stops with a reason instead of retrying for ever."""
    dlq, producer, written = make()
    producer.answer = error
    dlq.send(RECORD, ERROR, lambda: written.append(1))
    with pytest.raises(FatalError, match="dead-letter producer"):
        dlq.poll()
    with pytest.raises(FatalError):
        dlq.flush(1.0)
    with pytest.raises(FatalError):
        dlq.send(RECORD, ERROR, lambda: written.append(1))
    assert written == []


def test_fatal_error_from_produce_itself_raises() -> None:
    """A producer already in a fatal state refuses produce() with a fatal KafkaException: FatalError."""
    dlq, producer, _ = make()
    producer.refuse = KafkaException(KafkaError(KafkaError._FATAL, "producer fenced", fatal=True))
    with pytest.raises(FatalError):
        dlq.send(RECORD, ERROR, lambda: None)


def test_a_full_queue_blocks_send_for_about_a_second_then_the_write_waits_for_retry() -> None:
    """With the broker away librdkafka's queue stays full: send() returns within ~1 s instead of blocking the
    poll thread until max.poll.interval.ms; the write is produced once there is room again."""
    dlq, producer, written = make()
    producer.full.set()
    done = threading.Event()

    def send() -> None:
        dlq.send(RECORD, ERROR, lambda: written.append(1))
        done.set()

    threading.Thread(target=send, daemon=True).start()
    try:
        assert done.wait(10.0), "send() kept blocking while the local queue stayed full"
        assert producer.produced == [] and written == []
        attempts = producer.attempts
        dlq.send(RECORD, ERROR, lambda: written.append(2))  # known full: straight to the retry list
        assert producer.attempts == attempts
    finally:
        producer.full.clear()
    time.sleep(1.0)  # the queue-full back-off
    dlq.poll()
    dlq.poll()
    assert sorted(written) == [1, 2] and len(producer.produced) == 2
