"""Every seam of the pipeline as a Protocol.

The worker knows only these; adapters in kafka/, serde/, mapping/ and aep/ implement them, and
`cli` wires concrete pieces together. Fakes for unit tests live in tests/fakes.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from connector.errors import RecordError
from connector.records import Outcome, Route, SourceRecord, TopicPartition


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class Deserializer(Protocol):
    """Bytes of a record's value to a Python value.

    Raises DecodeError (dead-letter) or RetriableError (e.g. schema registry down).
    """

    def __call__(self, record: SourceRecord) -> Any: ...


class Mapper(Protocol):
    """A compiled mapping: decoded record -> one DCS envelope (a JSON-ready dict, or its bytes).

    Raises only MappingError.
    """

    @property
    def name(self) -> str: ...

    @property
    def route(self) -> Route: ...

    def map(self, record: SourceRecord, value: Any, key: Any = ...) -> dict[str, Any]:
        """`key`, when given, is the already-decoded record key (e.g. Avro keys)."""
        ...

    def map_bytes(self, record: SourceRecord, value: Any, key: Any = ...) -> bytes:
        """`mapping.envelope.encode(self.map(record, value, key))` byte for byte: what the worker sends."""
        ...


class Sink(Protocol):
    """Delivers one batch of serialised envelopes of one route to DCS.

    Returns one Outcome per message, in order. Retries transient failures itself while `cancel`
    is not set; raises DeliveryAbandoned when cancelled, FatalError when it must stop (and for a
    configuration problem: it never rejects records for what is wrong with the request).
    Order: the last write the destination takes of each message follows the batch order, so a
    message retried after later ones were accepted is sent again together with them.
    """

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]: ...


class Job(Protocol):
    """Work the loop hands to a Dispatcher; `run` never raises (it keeps its result or error)."""

    def run(self) -> None: ...


J = TypeVar("J", bound=Job)


class Dispatcher(Protocol[J]):
    """Runs jobs (the sink's deliveries) off the loop thread and hands finished ones back to it.

    The loop's bounded waits (revocation grace, shutdown) are measured on `monotonic`, the clock
    the dispatcher waits on: real time for threads, the test's clock for a deterministic model.
    """

    def submit(self, job: J) -> None: ...

    def finished(self, wait_s: float) -> list[J]:
        """Jobs that have run since the last call; waits up to `wait_s` for the first one."""
        ...

    def monotonic(self) -> float: ...

    def close(self) -> None:
        """Take no more jobs; jobs still running finish on their own (cancel them first)."""
        ...


class DeadLetters(Protocol):
    """Writes records that cannot be delivered to the dead-letter topic.

    `on_written` runs (from `poll`) only after the broker acknowledged the write.
    """

    def send(
        self, record: SourceRecord, error: RecordError, on_written: Callable[[], None], mapping: str | None = None
    ) -> None: ...

    def poll(self) -> None: ...

    def flush(self, timeout: float) -> int: ...


class RecordSource(Protocol):
    """A consumer-group member: polls records, pauses/resumes partitions, commits offsets."""

    def subscribe(self, listener: RebalanceListener) -> None: ...

    def poll_batch(self, max_records: int, timeout: float) -> list[SourceRecord]: ...

    def commit(self, offsets: dict[TopicPartition, int], asynchronous: bool) -> None: ...

    def pause(self, partitions: Sequence[TopicPartition]) -> None: ...

    def resume(self, partitions: Sequence[TopicPartition]) -> None: ...

    def seek(self, tp: TopicPartition, offset: int) -> None: ...

    def assignment(self) -> list[TopicPartition]: ...

    def close(self) -> None: ...


class RebalanceListener(Protocol):
    """Called on the polling thread, from inside `poll_batch`, with incremental partition sets.

    Eager and cooperative assignment alike: `on_assigned` gets partitions added to this member,
    `on_revoked` the ones it gives up (it may still commit them), `on_lost` the ones already taken
    from it (session lost: committing them would fail or overwrite the new owner's offsets).
    """

    def on_assigned(self, partitions: Sequence[TopicPartition]) -> None: ...

    def on_revoked(self, partitions: Sequence[TopicPartition]) -> None: ...

    def on_lost(self, partitions: Sequence[TopicPartition]) -> None: ...
