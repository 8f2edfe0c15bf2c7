"""In-memory fakes of the pipeline's Protocols, for fast unit tests of the worker."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.errors import DeliveryAbandoned, RecordError
from connector.interfaces import RebalanceListener
from connector.mapping.envelope import encode
from connector.records import Accepted, Outcome, Route, SourceRecord, TopicPartition


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeSource:
    """A one-consumer group: partitions are assigned on subscribe; records are fed by the test."""

    partitions: list[TopicPartition]
    queued: deque[SourceRecord] = field(default_factory=deque)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    paused: set[TopicPartition] = field(default_factory=set)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    listener: RebalanceListener | None = None
    closed: bool = False

    def subscribe(self, listener: RebalanceListener) -> None:
        self.listener = listener
        listener.on_assigned(list(self.partitions))

    def feed(self, records: Sequence[SourceRecord]) -> None:
        self.queued.extend(records)

    def poll_batch(self, max_records: int, timeout: float) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        kept: deque[SourceRecord] = deque()
        while self.queued and len(out) < max_records:
            r = self.queued.popleft()
            (kept if r.tp in self.paused else out).append(r)
        self.queued.extendleft(reversed(kept))
        return out

    def commit(self, offsets: dict[TopicPartition, int], asynchronous: bool) -> None:
        self.commits.append(dict(offsets))
        self.committed.update(offsets)

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        self.paused.update(partitions)

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        self.paused.difference_update(partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> list[TopicPartition]:
        return list(self.partitions)

    def revoke(self, partitions: Sequence[TopicPartition]) -> None:
        assert self.listener is not None
        self.listener.on_revoked(list(partitions))

    def lose(self, partitions: Sequence[TopicPartition]) -> None:
        assert self.listener is not None
        self.listener.on_lost(list(partitions))

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        assert self.listener is not None
        self.listener.on_assigned(list(partitions))

    def close(self) -> None:
        self.closed = True


class FakeSink:
    """Answers each message with `decide(payload)`; records every call. Can be gated to hold batches."""

    def __init__(self, decide: Callable[[bytes], Outcome] | None = None) -> None:
        self.decide = decide or (lambda _: Accepted("x"))
        self.calls: list[list[bytes]] = []
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        while not self.gate.wait(0.01):
            if cancel.is_set():
                raise DeliveryAbandoned("cancelled")
        with self._lock:
            self.calls.append(list(messages))
        return [self.decide(m) for m in messages]


class FakeDeadLetters:
    """Acknowledges writes on poll() (like the broker would), unless `hold` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[SourceRecord, RecordError]] = []
        self._pending: list[Callable[[], None]] = []
        self.hold = False
        self.flushes = 0

    def send(
        self, record: SourceRecord, error: RecordError, on_written: Callable[[], None], mapping: str | None = None
    ) -> None:
        self.sent.append((record, error))
        self._pending.append(on_written)

    def poll(self) -> None:
        if self.hold:
            return
        pending, self._pending = self._pending, []
        for cb in pending:
            cb()

    def flush(self, timeout: float) -> int:
        self.flushes += 1
        self.poll()
        return len(self._pending)


class EchoMapper:
    """Wraps the decoded value in a minimal envelope; raises what `fail` returns for a value."""

    def __init__(self, route: Route, fail: Callable[[Any], RecordError | None] | None = None) -> None:
        self._route = route
        self._fail = fail

    @property
    def name(self) -> str:
        return "echo"

    @property
    def route(self) -> Route:
        return self._route

    def map(self, record: SourceRecord, value: Any, key: Any = None) -> dict[str, Any]:
        if self._fail is not None:
            err = self._fail(value)
            if err is not None:
                raise err
        return {"header": {"datasetId": "ds"}, "body": {"xdmEntity": value}}

    def map_bytes(self, record: SourceRecord, value: Any, key: Any = None) -> bytes:
        return encode(self.map(record, value, key))
