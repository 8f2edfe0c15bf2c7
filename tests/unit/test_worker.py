"""The worker loop with in-memory fakes: what gets committed, dead-lettered, paused and delivered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pytest

from connector.config import BatchingSettings
from connector.errors import DeliveryAbandoned, FatalError, MappingError, RejectedError, RetriableError, RetryAfterError
from connector.records import Accepted, Outcome, Route, SourceRecord, TopicPartition
from connector.routing import Pipeline, Router
from connector.serde.json import JsonDeserializer
from connector.worker import Worker, WorkerOptions
from tests.fakes import EchoMapper, FakeClock, FakeDeadLetters, FakeSink, FakeSource

ROUTE = Route("http://127.0.0.1:1/collection/abc")
P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def rec(tp: TopicPartition, offset: int, value: Any) -> SourceRecord:
    raw = value if isinstance(value, bytes) or value is None else orjson.dumps(value)
    return SourceRecord(tp.topic, tp.partition, offset, b"k", raw, (("h", b"v"),), 1)


def make(
    sink: Any = None,  # a FakeSink (returned) or any other Sink
    *,
    fail: Callable[[Any], Any] | None = None,
    deserializer: Any = None,
    **batching: Any,
) -> tuple[Worker, FakeSource, FakeSink, FakeDeadLetters, FakeClock]:
    source = FakeSource([P0, P1])
    sink = sink or FakeSink()
    dlq = FakeDeadLetters()
    clock = FakeClock()
    opts = {"linger_ms": 0, "commit_interval_ms": 10, "max_in_flight": 2, **batching}
    router = Router([(["t"], Pipeline(deserializer or JsonDeserializer(), EchoMapper(ROUTE, fail)))])
    w = Worker(
        source=source, router=router, sink=sink, dead_letters=dlq, batching=BatchingSettings(**opts),
        clock=clock, options=WorkerOptions(revoke_grace_s=0.5, shutdown_timeout_s=0.5),
    )
    source.subscribe(w)
    return w, source, sink, dlq, clock


def drive(w: Worker, clock: FakeClock, until: Callable[[], bool], steps: int = 400) -> None:
    for _ in range(steps):
        w.step()
        clock.now += 0.02
        if until():
            return
        time.sleep(0.002)
    raise AssertionError("condition not reached")


def test_all_accepted_commits_end_offsets() -> None:
    """Every accepted record is committed: committed offset = last offset + 1 per partition."""
    w, src, sink, _, clock = make()
    src.feed([rec(P0, i, {"n": i}) for i in range(50)] + [rec(P1, i, {"n": i}) for i in range(30)])
    drive(w, clock, lambda: src.committed == {P0: 50, P1: 30})
    assert sum(len(c) for c in sink.calls) == 80


def test_rejected_record_committed_only_after_dead_letter_ack() -> None:
    """A 207 4xx entry goes to the dead-letter topic; its offset is committed only once that write is acked."""

    def decide(payload: bytes) -> Outcome:
        if b'"n":3' in payload:
            return RejectedError("aep-rejected", "Message is invalid", http_status=400)
        return Accepted("x")

    w, src, _, dlq, clock = make(FakeSink(decide))
    dlq.hold = True
    src.feed([rec(P0, i, {"n": i}) for i in range(6)])
    drive(w, clock, lambda: src.committed.get(P0) == 3 and len(dlq.sent) == 1)
    for _ in range(20):
        w.step()
        clock.now += 0.02
    assert src.committed[P0] == 3, "nothing past the unacknowledged dead letter is committed"
    dlq.hold = False
    drive(w, clock, lambda: src.committed.get(P0) == 6)
    record, error = dlq.sent[0]
    assert record.offset == 3 and error.reason == "aep-rejected"


def test_undecodable_and_unmappable_records_are_dead_lettered_with_reasons() -> None:
    """Bad JSON, a tombstone and a mapping failure are dead-lettered; good records in between are delivered."""
    w, src, sink, dlq, clock = make(fail=lambda v: MappingError("no id", target="_id") if v.get("bad") else None)
    src.feed([rec(P0, 0, {"ok": 1}), rec(P0, 1, b"{nope"), rec(P0, 2, None), rec(P0, 3, {"bad": 1}), rec(P0, 4, {})])
    drive(w, clock, lambda: src.committed.get(P0) == 5)
    assert [e.reason for _, e in dlq.sent] == ["invalid-json", "tombstone", "mapping-failed"]
    assert dlq.sent[0][0].value == b"{nope"
    assert sum(len(c) for c in sink.calls) == 2


def test_stalled_delivery_commits_nothing_and_pauses_partitions() -> None:
    """While DCS does not answer, nothing is committed and backpressure pauses the partitions."""
    sink = FakeSink()
    sink.gate.clear()
    w, src, _, dlq, clock = make(sink, max_buffered_records=40, max_records=10, poll_batch=10)
    src.feed([rec(P0, i, {"n": i}) for i in range(200)])
    for _ in range(50):
        w.step()
        clock.now += 0.05
    assert src.committed == {}
    assert P0 in src.paused
    assert w.status.buffered <= 40 + 10, "buffering stops one poll batch past the threshold"
    sink.gate.set()
    drive(w, clock, lambda: src.committed.get(P0) == 200, steps=2000)
    assert P0 not in src.paused
    assert dlq.sent == []


def test_partition_order_is_kept_across_lanes() -> None:
    """Each partition's records reach the sink in offset order (one request in flight per lane)."""
    w, src, sink, _, clock = make(max_records=7, max_in_flight=4)
    src.feed([rec(tp, i, {"p": tp.partition, "n": i}) for i in range(100) for tp in (P0, P1)])
    drive(w, clock, lambda: src.committed == {P0: 100, P1: 100})
    seen: dict[int, list[int]] = {0: [], 1: []}
    for call in sink.calls:
        for payload in call:
            v = orjson.loads(payload)["body"]["xdmEntity"]
            seen[v["p"]].append(v["n"])
    assert seen[0] == list(range(100)) and seen[1] == list(range(100))


def test_batches_respect_record_and_byte_limits() -> None:
    """No request carries more than max_records messages or more than max_bytes on the wire."""
    w, src, sink, _, clock = make(max_records=20, max_bytes=5_000)
    src.feed([rec(P0, i, {"pad": "x" * 400, "n": i}) for i in range(100)])
    drive(w, clock, lambda: src.committed.get(P0) == 100)
    for call in sink.calls:
        assert len(call) <= 20
        assert len(b'{"messages":[' + b",".join(call) + b"]}") <= 5_000


def test_too_large_record_is_dead_lettered_never_sent() -> None:
    """An envelope over DCS's 1 MB request limit goes to the dead-letter topic as too-large."""
    w, src, sink, dlq, clock = make()
    src.feed([rec(P0, 0, {"big": "x" * 1_100_000}), rec(P0, 1, {"n": 1})])
    drive(w, clock, lambda: src.committed.get(P0) == 2)
    assert [e.reason for _, e in dlq.sent] == ["too-large"]
    assert all(len(m) < 1_000_000 for call in sink.calls for m in call)


class FlakyDecoder:
    """Raises RetriableError for the first `fails` calls on offset 2 (a registry outage)."""

    def __init__(self, fails: int) -> None:
        self.fails = fails

    def __call__(self, record: SourceRecord) -> Any:
        if record.offset == 2 and self.fails > 0:
            self.fails -= 1
            raise RetriableError("registry unreachable")
        return orjson.loads(record.value or b"{}")


def test_retriable_decode_failure_rewinds_and_pauses_without_dead_letter() -> None:
    """A transient decode failure seeks back and pauses the partition; nothing is dead-lettered or skipped."""
    w, src, _, dlq, clock = make(deserializer=FlakyDecoder(fails=1))
    src.feed([rec(P0, i, {"n": i}) for i in range(5)])
    drive(w, clock, lambda: src.committed.get(P0) == 2)
    assert src.seeks == [(P0, 2)]
    assert P0 in src.paused
    assert dlq.sent == []
    # the fake source does not replay on seek; re-feed what a real consumer would re-read
    src.queued = type(src.queued)(r for r in src.queued if r.offset >= 2)
    src.feed([rec(P0, i, {"n": i}) for i in range(2, 5)])
    drive(w, clock, lambda: src.committed.get(P0) == 5, steps=800)
    assert P0 not in src.paused


def test_revocation_commits_final_prefix_and_forgets_partition() -> None:
    """On revocation the final prefix is committed and nothing past an unfinished record."""

    def decide(payload: bytes) -> Outcome:
        return Accepted("x")

    sink = FakeSink(decide)
    w, src, _, _, clock = make(sink, max_records=5)
    src.feed([rec(P0, i, {"n": i}) for i in range(5)])
    drive(w, clock, lambda: src.committed.get(P0) == 5)
    sink.gate.clear()
    src.feed([rec(P0, i, {"n": i}) for i in range(5, 10)])
    for _ in range(5):
        w.step()
    src.revoke([P0])
    assert src.committed[P0] == 5
    sink.gate.set()
    for _ in range(30):
        w.step()
        time.sleep(0.002)
    assert src.committed[P0] == 5, "late results of a revoked partition are ignored"


def test_revocation_commits_only_the_revoked_partitions() -> None:
    """An incremental revocation names some partitions: only those are committed (synchronously) then;
    the partitions kept are left to the periodic commit."""
    w, src, _, _, clock = make(max_records=3, commit_interval_ms=3_600_000)
    src.feed([rec(P0, i, {"n": i}) for i in range(3)] + [rec(P1, i, {"n": i}) for i in range(3)])
    drive(w, clock, lambda: w.status.delivered == 6)
    before = len(src.commits)
    src.revoke([P0])
    assert src.commits[before:] == [{P0: 3}]
    assert w.status.assigned == 1


@pytest.mark.parametrize("n", [1, 3])
def test_shutdown_delivers_buffered_and_commits(n: int) -> None:
    """stop() sends what is buffered, commits what became final and closes the source."""
    w, src, _, _, _ = make(linger_ms=60_000)
    src.feed([rec(P0, i, {"n": i}) for i in range(n)])
    w.step()
    w.stop()
    w.shutdown()
    assert src.committed.get(P0) == n and src.closed


def test_a_lost_commit_is_sent_again_once_the_watermark_stops_moving() -> None:
    """A final watermark whose commit was lost (broker away) is committed again a few intervals later."""
    w, src, _, _, clock = make()
    src.feed([rec(P0, i, {"n": i}) for i in range(3)])
    drive(w, clock, lambda: src.committed.get(P0) == 3)
    src.committed.clear()  # the broker never got it
    for _ in range(400):
        w.step()
        clock.now += 0.05
        if src.committed.get(P0) == 3:
            break
    assert src.committed.get(P0) == 3


def sent_values(sink: FakeSink, key: str = "n") -> list[Any]:
    return [orjson.loads(m)["body"]["xdmEntity"].get(key) for call in sink.calls for m in call]


class BrokenAt:
    """A registry outage for one record: RetriableError for (partition, offset) while `broken`."""

    def __init__(self, tp: TopicPartition, offset: int, error: RetriableError | None = None) -> None:
        self.at = (tp.partition, offset)
        self.error = error or RetriableError("schema registry unreachable")
        self.broken = True

    def __call__(self, record: SourceRecord) -> Any:
        if self.broken and (record.partition, record.offset) == self.at:
            raise self.error
        return orjson.loads(record.value or b"{}")


def test_transient_decode_failure_ending_a_run_is_never_committed_past() -> None:
    """Defect 1: a registry failure on the last record of a partition run; a later run of that partition
    in the same poll is not ingested, so nothing past the failed record is sent or committed."""
    decoder = BrokenAt(P0, 1)
    w, src, sink, dlq, clock = make(deserializer=decoder)
    # one consume() result holding two runs of P0: [P0:0 P0:1] [P1:0] [P0:2]
    src.feed([rec(P0, 0, {"n": 0}), rec(P0, 1, {"n": 1}), rec(P1, 0, {"n": 10}), rec(P0, 2, {"n": 2})])
    drive(w, clock, lambda: src.committed.get(P1) == 1)
    for _ in range(30):
        w.step()
        clock.now += 0.02
        time.sleep(0.002)
    assert src.committed[P0] == 1, "nothing past the record that failed to decode is committed"
    assert 2 not in sent_values(sink), "the later run of the rewound partition was not ingested"
    assert src.seeks == [(P0, 1)] and dlq.sent == []
    decoder.broken = False  # the registry is back; the consumer reads again from the seek position
    src.feed([rec(P0, 1, {"n": 1}), rec(P0, 2, {"n": 2})])
    drive(w, clock, lambda: src.committed.get(P0) == 3, steps=800)
    assert [n for n in sent_values(sink) if n < 10] == [0, 1, 2]


def test_registry_retry_after_inf_pauses_a_partition_for_a_bounded_time() -> None:
    """Defect 6: a registry Retry-After of inf once parked the partition for ever; it resumes within 300 s."""
    decoder = BrokenAt(P0, 0, RetryAfterError("schema registry answered 429", float("inf")))
    w, src, _, _, clock = make(deserializer=decoder)
    src.feed([rec(P0, 0, {"n": 0})])
    w.step()
    assert P0 in src.paused
    decoder.broken = False
    clock.now += 301.0  # the cap on any server-given delay is 300 s
    for _ in range(5):
        w.step()
        clock.now += 0.02
    assert P0 not in src.paused, "the partition resumes once the bounded delay has passed"


class FatalForP0Sink:
    """DCS answers 403 to batches of P0; batches of P1 retry until cancelled (or released by the test)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.cancelled = threading.Event()

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        if b'"p":0' in messages[0]:
            raise FatalError("DCS answered 403 Forbidden")
        while not cancel.wait(0.01):
            if self.release.is_set():
                return [Accepted("x")] * len(messages)
        self.cancelled.set()
        raise DeliveryAbandoned("cancelled")


def test_fatal_error_shuts_down_within_its_bound_while_another_lane_retries() -> None:
    """Defect 2: after a 403 the worker cancels the delivery still retrying on another lane, flushes the
    dead letters, closes the consumer and run() raises, within its bound; it used to hang."""
    sink = FatalForP0Sink()
    w, src, _, dlq, _ = make(sink, max_records=1, max_in_flight=2)  # shutdown_timeout_s=0.5
    src.feed([rec(P1, 0, {"p": 1}), rec(P0, 0, {"p": 0}), rec(P0, 1, {"p": 0}), rec(P0, 2, {"p": 0})])
    errors: list[BaseException] = []

    def run() -> None:
        try:
            w.run()
        except FatalError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    try:
        assert not thread.is_alive(), "run() did not return after a fatal error"
        assert errors and "403" in str(errors[0])
        assert sink.cancelled.is_set(), "the other lane's retrying delivery was cancelled"
        assert src.closed and dlq.flushes
    finally:
        sink.release.set()


class OnTheWireSink:
    """A request already sent cannot be called back: deliveries ignore cancel and wait for `gate`."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.events: list[tuple[str, list[int]]] = []
        self._lock = threading.Lock()

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        ns = [orjson.loads(m)["body"]["xdmEntity"]["n"] for m in messages]
        with self._lock:
            self.events.append(("start", ns))
        self.gate.wait(10)
        with self._lock:
            self.events.append(("end", ns))
        return [Accepted("x")] * len(messages)


def test_a_partition_assigned_again_waits_for_its_batch_still_in_flight() -> None:
    """A partition revoked while its batch is in flight and assigned back to this worker keeps its lane,
    so its records read again are not sent (on another lane) before the old request came back."""
    sink = OnTheWireSink()
    w, src, _, _, clock = make(sink, max_in_flight=2, max_records=5)
    src.feed([rec(P0, 0, {"n": 0}), rec(P0, 1, {"n": 1})])
    drive(w, clock, lambda: len(sink.events) == 1)
    src.revoke([P0])  # the grace ends with the request still on the wire
    src.assign([P0])
    src.feed([rec(P0, 0, {"n": 0}), rec(P0, 1, {"n": 1}), rec(P0, 2, {"n": 2})])
    for _ in range(30):
        w.step()
        clock.now += 0.02
        time.sleep(0.002)
    assert [e for e in sink.events if e[0] == "start"] == [("start", [0, 1])], "nothing sent past the old batch"
    sink.gate.set()
    drive(w, clock, lambda: src.committed.get(P0) == 3)
    assert sink.events[:2] == [("start", [0, 1]), ("end", [0, 1])]


def test_incremental_revocation_touches_only_the_named_partitions() -> None:
    """Cooperative rebalancing: revoking P0 leaves P1's buffered and in-flight records alone."""
    w, src, sink, _, _ = make(linger_ms=60_000, max_records=100)
    src.feed([rec(P0, 0, {"n": 0}), rec(P1, 0, {"n": 10}), rec(P1, 1, {"n": 11})])
    w.step()
    src.revoke([P0])
    assert w.status.assigned == 1
    src.assign([P0])  # additive: P1 keeps its state
    assert w.status.assigned == 2
    w.shutdown()
    assert src.committed.get(P1) == 2 and sorted(sent_values(sink)) == [10, 11]


def test_lost_partitions_are_dropped_without_any_commit() -> None:
    """on_lost: the partitions already belong to another member, so nothing is committed for them."""
    w, src, _, _, clock = make(commit_interval_ms=60_000)
    src.feed([rec(P0, i, {"n": i}) for i in range(3)])
    drive(w, clock, lambda: w.status.delivered == 3)
    commits = len(src.commits)
    src.lose([P0, P1])
    assert len(src.commits) == commits, "no commit inside on_lost"
    assert w.status.assigned == 0


class _Lines:
    """A logger that keeps what it is given (structlog's capture_logs misses loggers cached by other tests)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        return lambda event, **kw: self.lines.append({"event": event, "level": level, **kw})


def test_a_flood_of_bad_records_is_a_few_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """500 undecodable records: one line for the topic and reason, then a repeat count, not 500 lines."""
    import connector.worker

    logger = _Lines()
    monkeypatch.setattr(connector.worker, "log", logger)
    w, src, _, dlq, clock = make()
    src.feed([rec(P0, i, b"{nope") for i in range(500)])
    drive(w, clock, lambda: src.committed.get(P0) == 500, steps=2000)
    w.stop()
    w.run()
    lines = [e for e in logger.lines if e["event"] == "record_dead_lettered"]
    assert len(dlq.sent) == 500
    assert 1 <= len(lines) <= 2, lines
    assert lines[0]["reason"] == "invalid-json" and lines[0]["offset"] == 0 and lines[0]["level"] == "info"
    assert 1 + sum(e.get("repeated", 0) for e in lines) == 500, "every dead letter counted"
