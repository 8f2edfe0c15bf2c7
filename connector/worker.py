"""The loop: poll -> decode -> map -> batch -> send -> dead-letter -> commit.

Commit protocol, per partition (see offsets.py):
  1. every consumed record is tracked before anything can fail;
  2. a record becomes final when DCS accepted it, or when the dead-letter topic acknowledged it;
  3. only the contiguous prefix of final records is committed, asynchronously every
     `commit_interval_ms`, synchronously on revocation and shutdown;
  4. transient failures (DCS down, 5xx, 429, registry down) never finalise a record: delivery keeps
     retrying and backpressure pauses the partitions, so nothing past an unfinished record is
     ever committed.

Rebalances are handled per partition, so incremental (cooperative) assignment works as eager
does: on_assigned adds partitions, on_revoked gives up only the ones named (after a bounded grace
for their deliveries, committing what is final), on_lost drops partitions that are already gone,
with no commit. A FatalError (from the sink, the dead-letter producer or the consumer) is kept and
raised from `step`; `shutdown` then still cancels deliveries, flushes dead letters, commits what is
final and closes the consumer within its bound.

The parts: lanes.py (batching, one delivery in flight per lane), flow.py (poll gate, pauses,
rewinds), dispatch.py (the threads deliveries run on), offsets.py (the commit watermark).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from connector.aep.wire import batch_size
from connector.config import DCS_MAX_REQUEST_BYTES, BatchingSettings
from connector.dispatch import ThreadDispatcher
from connector.errors import (
    DecodeError,
    DeliveryAbandoned,
    FatalError,
    MappingError,
    RecordError,
    RejectedError,
    RetriableError,
)
from connector.flow import FlowControl, FlowOptions
from connector.interfaces import Clock, DeadLetters, Dispatcher, Mapper, RecordSource, Sink
from connector.lanes import Delivery, Item, Lane, Lanes
from connector.mapping.envelope import encode as encode_envelope
from connector.observability import metrics as m
from connector.observability.events import EventAggregator
from connector.offsets import OffsetTracker
from connector.records import Accepted, SourceRecord, TopicPartition
from connector.routing import Router
from connector.serde.keys import WithKey

log = structlog.get_logger(__name__)


_MAX_ENVELOPE_BYTES = DCS_MAX_REQUEST_BYTES - batch_size(0, 1)  # the largest envelope a request can carry alone


def map_record(mapper: Mapper, record: SourceRecord, value: Any) -> bytes:
    """The envelope bytes of one decoded record, as `run` sends them (`mapper.map_bytes`, size-checked).

    Raises only RecordError: the mapping's own errors, and too-large for an envelope that alone
    exceeds DCS's 1 MB request limit (it could never be sent).
    """
    try:
        if isinstance(value, WithKey):
            payload = mapper.map_bytes(record, value.value, key=value.key)
        else:
            payload = mapper.map_bytes(record, value)
    except RecordError:
        raise
    except Exception as exc:
        raise MappingError(f"{type(exc).__name__}: {exc}", reason="mapping-failed") from exc
    return _sendable(payload)


def map_envelope(mapper: Mapper, record: SourceRecord, value: Any) -> tuple[dict[str, Any], bytes]:
    """(envelope, its bytes) for one decoded record, with `map_record`'s errors (`preview` shows these).

    The bytes are `encode(envelope)`, which `map_bytes` equals byte for byte (tests/unit/mapping/test_map_bytes.py).
    """
    try:
        if isinstance(value, WithKey):
            envelope = mapper.map(record, value.value, key=value.key)
        else:
            envelope = mapper.map(record, value)
        payload = encode_envelope(envelope)
    except RecordError:
        raise
    except Exception as exc:
        raise MappingError(f"{type(exc).__name__}: {exc}", reason="mapping-failed") from exc
    return envelope, _sendable(payload)


def _sendable(payload: bytes) -> bytes:
    if len(payload) > _MAX_ENVELOPE_BYTES:
        raise RejectedError(
            "too-large",
            f"envelope is {len(payload)} bytes; DCS accepts at most {DCS_MAX_REQUEST_BYTES} bytes per request",
            http_status=413,
        )
    return payload


@dataclass(slots=True)
class WorkerStatus:
    """What health endpoints and the demo read; written only by the loop thread."""

    started: float = 0.0
    last_loop: float = 0.0
    assigned: int = 0
    paused: int = 0
    buffered: int = 0
    in_flight: int = 0
    last_delivery_ok: float = 0.0
    delivered: int = 0
    dead_lettered: int = 0
    consumed: int = 0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    running: bool = False


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    revoke_grace_s: float = 5.0  # how long a revocation waits for deliveries of the revoked partitions
    shutdown_timeout_s: float = 15.0  # how long shutdown waits for deliveries; then the dead-letter flush
    dead_letter_flush_s: float = 10.0
    retry_decode_after_s: float = 2.0
    pause_after_s: float = 2.0  # a partition over its buffer share this long with no progress is paused
    max_retry_decode_after_s: float = 30.0


class Worker:
    def __init__(
        self,
        *,
        source: RecordSource,
        router: Router,
        sink: Sink,
        dead_letters: DeadLetters,
        batching: BatchingSettings,
        clock: Clock,
        options: WorkerOptions | None = None,
        dispatcher: Dispatcher[Delivery] | None = None,
    ) -> None:
        self._source = source
        self._router = router
        self._dlq = dead_letters
        self._b = batching
        self._clock = clock
        self._opt = opt = options or WorkerOptions()
        self._tracker = OffsetTracker()
        self._gens: dict[TopicPartition, int] = {}
        self._next_gen = 0
        self._dispatcher: Dispatcher[Delivery] = dispatcher or ThreadDispatcher(batching.max_in_flight)
        self._lanes = Lanes(batching, sink, self._dispatcher)
        self._flow = FlowControl(
            source, batching, FlowOptions(opt.retry_decode_after_s, opt.max_retry_decode_after_s, opt.pause_after_s)
        )
        self._last_commit = 0.0
        self._last_full_commit = 0.0
        self._stop = False
        self._fatal: FatalError | None = None  # the first fatal error; the worker stops
        self.status = WorkerStatus()
        # a flood of bad records is one line per topic and reason, then a repeat count per window
        self._dead_letter_log = EventAggregator(log)

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Ask the loop to stop (safe from signal handlers and other threads)."""
        self._stop = True

    def run(self) -> None:
        """Poll and deliver until stop() or a fatal error; always shut down within the bound."""
        self.status.started = self._clock.monotonic()
        self.status.running = True
        self._source.subscribe(self)
        log.info("worker_started", max_in_flight=self._b.max_in_flight, max_records=self._b.max_records)
        try:
            while not self._stop:
                self.step()
        finally:
            self.shutdown()
            self.status.running = False
        if self._fatal is not None:
            raise self._fatal  # found while shutting down (e.g. the dead-letter producer failed for good)

    def step(self) -> None:
        """One loop iteration (public so tests can drive the loop); raises the first FatalError met."""
        try:
            self._step()
        except FatalError as exc:
            self._fatal = self._fatal or exc
        if self._fatal is not None:
            raise self._fatal

    def _step(self) -> None:
        lanes = self._lanes
        if self._flow.gate_open:
            busy = lanes.in_flight > 0 or lanes.buffered()
            n = self._b.poll_batch
            records = self._source.poll_batch(n, 0.0)
            if not records:
                # consume() blocks until all n records or the timeout: wait for the first one only,
                # then take whatever else is queued, so a trickle is not held back for the timeout.
                records = self._source.poll_batch(1, 0.005 if busy else 0.2)
                if records and n > 1:
                    records += self._source.poll_batch(n - 1, 0.0)
            if records:
                self._ingest_all(records)
            self._collect()
        else:
            self._collect(wait_s=0.005)  # the gate is closed: wait for deliveries to make room
        self._dlq.poll()
        now = self._clock.monotonic()
        if self._fatal is None:
            lanes.flush(now, force=False)
        self._flow.check(now, self._gens, self._tracker.unfinished)
        self._maybe_commit(now, force=False)
        st = self.status
        st.last_loop = now
        st.in_flight = lanes.in_flight
        st.paused = self._flow.paused
        st.buffered = self._tracker.unfinished()
        m.BUFFERED_RECORDS.set(st.buffered)

    def shutdown(self) -> None:
        """Stop within shutdown_timeout_s + dead_letter_flush_s (plus the final commit and close).

        1. unless a fatal error stopped the worker, send what is buffered and wait for deliveries;
        2. cancel every delivery still in flight and take what comes back before the deadline;
        3. flush the dead-letter producer, so acknowledged dead letters become final;
        4. commit what is final (synchronously) and close the consumer.
        Never raises: a fatal error met here is kept and raised by `run`.
        """
        lanes, wait = self._lanes, self._dispatcher
        deadline = wait.monotonic() + self._opt.shutdown_timeout_s
        try:
            while self._fatal is None and (lanes.in_flight or lanes.buffered()) and wait.monotonic() < deadline:
                lanes.flush(self._clock.monotonic(), force=True)
                self._collect(wait_s=min(0.05, max(0.0, deadline - wait.monotonic())))
                self._dlq.poll()
            for delivery in lanes.sending():
                delivery.cancel.set()
            while lanes.in_flight and wait.monotonic() < deadline:
                self._collect(wait_s=min(0.05, max(0.0, deadline - wait.monotonic())))
        except FatalError as exc:
            self._fatal = self._fatal or exc
        for delivery in lanes.sending():
            delivery.cancel.set()
        wait.close()
        try:
            self._dlq.flush(self._opt.dead_letter_flush_s)
        except FatalError as exc:  # those dead letters are not written: their offsets stay uncommitted
            self._fatal = self._fatal or exc
        self._maybe_commit(self._clock.monotonic(), force=True)
        self._dead_letter_log.close()  # the repeat counts of the open windows, now
        log.info(
            "worker_stopped", unfinished=self._tracker.unfinished(), delivered=self.status.delivered,
            abandoned=lanes.in_flight, fatal=str(self._fatal) if self._fatal else None,
        )
        self._source.close()

    # ------------------------------------------------------------------ rebalance

    def on_assigned(self, partitions: Sequence[TopicPartition]) -> None:
        """Partitions added to this member (incremental: the ones it already owns are untouched)."""
        for tp in partitions:
            if tp not in self._gens:
                self._next_gen += 1
                self._gens[tp] = self._next_gen
        self.status.assigned = len(self._gens)
        if partitions:  # incremental rebalances also call this with nothing new
            log.info("partitions_assigned", partitions=[f"{tp.topic}[{tp.partition}]" for tp in partitions])

    def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        """Give up `partitions` (only those): bounded grace for their deliveries, then commit what is final of them.

        A delivery of them still in flight after `revoke_grace_s` is cancelled; the partition stays
        pinned to its lane, so if it comes back to this worker its records wait behind that delivery.
        """
        revoked = {tp for tp in partitions if tp in self._gens}
        lanes, wait = self._lanes, self._dispatcher
        lanes.drop(revoked)
        deadline = wait.monotonic() + self._opt.revoke_grace_s
        try:
            while lanes.sending(revoked) and wait.monotonic() < deadline:
                self._collect(wait_s=min(0.05, max(0.0, deadline - wait.monotonic())))
            for delivery in lanes.sending(revoked):
                delivery.cancel.set()
            self._dlq.flush(max(0.0, min(5.0, deadline - wait.monotonic())))
        except FatalError as exc:  # raised by the next step; the revocation itself completes
            self._fatal = self._fatal or exc
        # only the revoked partitions: the ones kept go on with the periodic commits
        offsets = self._tracker.take_commits(everything=True, only=revoked)
        if offsets:
            self._source.commit(offsets, asynchronous=False)
            m.LAST_COMMIT.set(self._clock.time())
        self._forget(revoked, "partitions_revoked")

    def on_lost(self, partitions: Sequence[TopicPartition]) -> None:
        """Partitions already taken from this member (session lost): drop them, cancel, never commit them."""
        lost = {tp for tp in partitions if tp in self._gens}
        self._lanes.drop(lost)
        for delivery in self._lanes.sending(lost):
            delivery.cancel.set()
        self._forget(lost, "partitions_lost")

    def _forget(self, partitions: set[TopicPartition], event: str) -> None:
        for tp in partitions:
            left = self._tracker.unfinished(tp)
            if left:
                log.info("partition_left_unfinished", topic=tp.topic, partition=tp.partition, unfinished=left)
            self._tracker.forget(tp)
            self._gens.pop(tp, None)
            self._flow.forget(tp)
        self.status.assigned = len(self._gens)
        log.info(event, partitions=[f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions)])

    # ------------------------------------------------------------------ ingest

    def _ingest_all(self, records: list[SourceRecord]) -> None:
        counts: dict[str, int] = {}
        now = self._clock.monotonic()
        end = len(records)
        start = 0
        lanes, rewinding = self._lanes, self._flow.rewinding
        # librdkafka hands out runs of one partition's records, and one poll may hold several runs
        # of a partition: route each run as a unit. After a rewind every later record of that
        # partition is read again from the seek position, so later runs are dropped until then.
        while start < end:
            first = records[start]
            topic, partition = first.topic, first.partition
            stop = start + 1
            while stop < end and records[stop].partition == partition and records[stop].topic == topic:
                stop += 1
            tp = TopicPartition(topic, partition)
            if not rewinding(tp):
                counts[topic] = counts.get(topic, 0) + self._ingest(records, start, stop, tp, now)
            start = stop
            # a lane came free while this poll was being routed: refill it now, not after the poll
            if lanes.in_flight and self._collect() and self._fatal is None:
                lanes.flush(now, force=False)
        for topic, n in counts.items():
            m.RECORDS_CONSUMED.labels(topic).inc(n)
        self.status.consumed += sum(counts.values())

    def _ingest(self, records: list[SourceRecord], start: int, stop: int, tp: TopicPartition, now: float) -> int:
        """Route records[start:stop], all of partition `tp`; how many were consumed (fewer after a rewind).

        The run is tracked in one call before any of it is handed on (a dead letter's `on_written`
        runs only from a later `poll`); a rewind untracks the records from the failed one on.
        """
        gen = self._gens.get(tp)
        if gen is None:
            return stop - start  # not (or no longer) ours
        pipeline = self._router.pipeline_for(tp.topic)
        if pipeline is None:
            return self._ingest_unmapped(records, start, stop, tp, gen)
        deserialize, mapper, name = pipeline.deserializer, pipeline.mapper, pipeline.mapper.name
        self._tracker.track_run(tp, [records[i].offset for i in range(start, stop)])
        lane: Lane | None = None
        for i in range(start, stop):
            record = records[i]
            try:
                value = deserialize(record)
            except RetriableError as exc:
                self._tracker.untrack_from(tp, record.offset)
                if i > start:
                    self._flow.progressed(tp)
                self._flow.rewind(record, tp, exc, now)
                return i - start + 1  # the failed record was read too (it is read again later)
            except FatalError:
                raise
            except RecordError as exc:
                self._dead_letter(record, gen, exc, name)
                continue
            except Exception as exc:  # a decoder bug must not stop the worker or lose the record
                self._dead_letter(record, gen, DecodeError("decode-failed", f"{type(exc).__name__}: {exc}"), name)
                continue
            try:
                payload = map_record(mapper, record, value)
            except RecordError as exc:
                self._dead_letter(record, gen, exc, name)
                continue
            if lane is None:
                lane = self._lanes.lane(mapper.route, tp)
            if not lane.items:
                lane.nbytes = 0
            lane.items.append(Item(record, gen, name, payload, now))
            lane.nbytes += len(payload) + 1
        self._flow.progressed(tp)  # a record of it decoded: the next rewind starts from the shortest backoff
        return stop - start

    def _ingest_unmapped(self, records: list[SourceRecord], start: int, stop: int, tp: TopicPartition, gen: int) -> int:
        """A topic no mapping handles (a subscription pattern matched it): every record is dead-lettered."""
        self._tracker.track_run(tp, [records[i].offset for i in range(start, stop)])
        self._flow.progressed(tp)
        for i in range(start, stop):
            record = records[i]
            self._dead_letter(record, gen, DecodeError("no-mapping", f"no mapping handles topic {record.topic}"), None)
        return stop - start

    # ------------------------------------------------------------------ outcomes

    def _dead_letter(self, record: SourceRecord, gen: int, error: RecordError, mapping: str | None) -> None:
        tp = TopicPartition(record.topic, record.partition)
        offset = record.offset

        def written() -> None:
            m.RECORDS_DEAD_LETTERED.labels(error.reason, mapping or "").inc()
            st = self.status
            st.dead_lettered += 1
            st.dead_letter_reasons[error.reason] = st.dead_letter_reasons.get(error.reason, 0) + 1
            if self._gens.get(tp) == gen:
                self._tracker.complete(tp, offset)

        self._dead_letter_log.note(
            "record_dead_lettered", {"topic": record.topic, "reason": error.reason}, level="info",
            partition=record.partition, offset=offset, stage=error.stage, error=error.message[:300],
        )  # fmt: skip
        self._dlq.send(record, error, written, mapping)

    def _collect(self, wait_s: float = 0.0) -> int:
        """Apply the deliveries that came back; how many there were."""
        done = self._lanes.finished(wait_s)
        for delivery in done:
            self._apply(delivery)
        return len(done)

    def _apply(self, delivery: Delivery) -> None:
        lane, batch, exc = delivery.lane, delivery.items, delivery.error
        if isinstance(exc, FatalError):
            self._fatal = self._fatal or exc  # raised by step(); nothing of this batch is final
            return
        outcomes = delivery.outcomes
        if exc is not None or outcomes is None or len(outcomes) != len(batch):
            # Abandoned (revocation, shutdown) or a sink bug: never finalise on doubt; what is still
            # ours goes back to the head of its lane, ahead of anything read since.
            if not isinstance(exc, DeliveryAbandoned):
                log.error("delivery_failed_unexpectedly", error=repr(exc), records=len(batch))
            self._lanes.put_back(lane, [i for i in batch if self._gens.get(i.record.tp) == i.gen])
            return
        delivered: dict[str, int] = {}
        # per partition: (its TopicPartition, its generation now, the offsets accepted), completed per run
        tps: dict[tuple[str, int], tuple[TopicPartition, int | None, list[int]]] = {}
        for item, outcome in zip(batch, outcomes, strict=True):
            rec = item.record
            key = (rec.topic, rec.partition)
            known = tps.get(key)
            if known is None:
                tp = TopicPartition(rec.topic, rec.partition)
                known = tps[key] = (tp, self._gens.get(tp), [])
            if known[1] != item.gen:
                continue
            if isinstance(outcome, Accepted):
                known[2].append(rec.offset)
                delivered[item.mapping] = delivered.get(item.mapping, 0) + 1
            else:
                self._dead_letter(rec, item.gen, outcome, item.mapping)
        for tp, _, offsets in tps.values():
            self._tracker.complete_run(tp, offsets)
        total = sum(delivered.values())
        if total:
            for name, n in delivered.items():
                m.RECORDS_DELIVERED.labels(name, *lane.route.metric_labels).inc(n)
            self.status.delivered += total
        self.status.last_delivery_ok = self._clock.monotonic()

    # ------------------------------------------------------------------ commits

    def _maybe_commit(self, now: float, force: bool) -> None:
        interval = self._b.commit_interval_ms / 1000.0
        if not force and now - self._last_commit < interval:
            return
        self._last_commit = now
        # Every few intervals (and when forced) all watermarks are sent again, so one that failed
        # to commit while the broker was away is committed once it is back.
        everything = force or now - self._last_full_commit >= max(5.0, 5 * interval)
        if everything:
            self._last_full_commit = now
        offsets = self._tracker.take_commits(everything)
        if offsets:
            self._source.commit(offsets, asynchronous=not force)
            m.LAST_COMMIT.set(self._clock.time())
