"""The loop: poll -> decode -> map -> batch -> send -> dead-letter -> commit.

Commit protocol, per partition (see offsets.py):
  1. every consumed record is tracked before anything can fail;
  2. a record becomes final when DCS accepted it, or when the dead-letter topic acknowledged it;
  3. only the contiguous prefix of final records is committed, asynchronously every
     `commit_interval_ms`, synchronously on revocation and shutdown;
  4. transient failures (DCS down, 5xx, 429, registry down) never finalise a record: delivery keeps
     retrying and backpressure pauses the partitions, so nothing past an unfinished record is
     ever committed.

Ordering: each partition is pinned to one *lane* of its route; a lane has at most one request in
flight, so a partition's records reach DCS in offset order, across retries. Lanes of all routes
share `max_in_flight` request slots.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog

from connector.aep.wire import batch_size
from connector.config import DCS_MAX_REQUEST_BYTES, BatchingSettings
from connector.errors import (
    DecodeError,
    DeliveryAbandoned,
    FatalError,
    MappingError,
    RecordError,
    RejectedError,
    RetriableError,
    RetryAfterError,
)
from connector.interfaces import Clock, DeadLetters, Mapper, RecordSource, Sink
from connector.mapping.envelope import encode as encode_envelope
from connector.observability import metrics as m
from connector.offsets import OffsetTracker
from connector.records import Accepted, Outcome, Route, SourceRecord, TopicPartition
from connector.routing import Pipeline, Router
from connector.serde.keys import WithKey

log = structlog.get_logger(__name__)


def map_record(mapper: Mapper, record: SourceRecord, value: Any) -> tuple[dict[str, Any], bytes]:
    """(envelope, its bytes) for one decoded record, exactly as `run` sends it (`preview` shares this).

    Raises only RecordError: the mapping's own errors, and too-large for an envelope that alone
    exceeds DCS's 1 MB request limit (it could never be sent).
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
    if batch_size(len(payload), 1) > DCS_MAX_REQUEST_BYTES:
        raise RejectedError(
            "too-large",
            f"envelope is {len(payload)} bytes; DCS accepts at most {DCS_MAX_REQUEST_BYTES} bytes per request",
            http_status=413,
        )
    return envelope, payload


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


@dataclass(slots=True)
class _Item:
    record: SourceRecord
    gen: int
    mapping: str
    payload: bytes
    since: float


@dataclass(slots=True, eq=False)
class _Lane:
    route: Route
    items: deque[_Item] = field(default_factory=deque)
    nbytes: int = 0
    busy: bool = False
    in_flight_tps: frozenset[TopicPartition] = frozenset()


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    revoke_grace_s: float = 5.0
    shutdown_timeout_s: float = 15.0
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
    ) -> None:
        self._source = source
        self._router = router
        self._sink = sink
        self._dlq = dead_letters
        self._b = batching
        self._clock = clock
        self._opt = options or WorkerOptions()
        self._tracker = OffsetTracker()
        self._gens: dict[TopicPartition, int] = {}
        self._next_gen = 0
        self._lanes: dict[tuple[Route, int], _Lane] = {}
        self._lane_of: dict[TopicPartition, _Lane] = {}
        self._lane_counter: dict[Route, int] = {}
        self._results: queue.SimpleQueue[tuple[_Lane, list[_Item], Future[list[Outcome]]]] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_workers=batching.max_in_flight, thread_name_prefix="dcs")
        self._in_flight = 0
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self._paused_bp: set[TopicPartition] = set()
        self._over_since: dict[TopicPartition, float] = {}  # partition -> when it went over its share
        self._poll_gate_open = True
        self._rewound: dict[TopicPartition, float] = {}  # partition -> monotonic time to resume
        self._rewind_backoff: dict[TopicPartition, float] = {}
        self._last_commit = 0.0
        self._last_full_commit = 0.0
        self._last_bp_check = 0.0
        self.status = WorkerStatus()

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Ask the loop to stop (safe from signal handlers and other threads)."""
        self._stop.set()

    def run(self) -> None:
        self.status.started = self._clock.monotonic()
        self.status.running = True
        self._source.subscribe(self)
        log.info("worker_started", max_in_flight=self._b.max_in_flight, max_records=self._b.max_records)
        try:
            while not self._stop.is_set():
                self.step()
        finally:
            self._shutdown()
            self.status.running = False

    def step(self) -> None:
        """One loop iteration (public so tests can drive the loop)."""
        if self._poll_gate_open:
            busy = self._in_flight > 0 or any(lane.items for lane in self._lanes.values())
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
            self._drain_results()
        else:
            self._drain_results(block_s=0.005)  # the gate is closed: wait for deliveries to make room
        self._dlq.poll()
        now = self._clock.monotonic()
        self._flush_lanes(now, force=False)
        self._backpressure(now)
        self._maybe_commit(now, force=False)
        st = self.status
        st.last_loop = now
        st.in_flight = self._in_flight
        st.buffered = self._tracker.unfinished()
        m.BUFFERED_RECORDS.set(st.buffered)

    def _shutdown(self) -> None:
        # Waits for real threads, so real time (not the injected clock) bounds them.
        deadline = time.monotonic() + self._opt.shutdown_timeout_s
        while time.monotonic() < deadline and (self._in_flight or any(x.items for x in self._lanes.values())):
            self._flush_lanes(self._clock.monotonic(), force=True)
            self._drain_results(block_s=0.05)
            self._dlq.poll()
        self._cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._drain_results()
        self._dlq.flush(10.0)
        self._maybe_commit(self._clock.monotonic(), force=True)
        unfinished = self._tracker.unfinished()
        log.info("worker_stopped", unfinished=unfinished, delivered=self.status.delivered)
        self._source.close()

    # ------------------------------------------------------------------ rebalance

    def on_assigned(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self._next_gen += 1
            self._gens[tp] = self._next_gen
        self.status.assigned = len(self._gens)
        log.info("partitions_assigned", partitions=[f"{tp.topic}[{tp.partition}]" for tp in partitions])

    def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        revoked = set(partitions)
        for lane in self._lanes.values():
            if any(i.record.tp in revoked for i in lane.items):
                lane.items = deque(i for i in lane.items if i.record.tp not in revoked)
                lane.nbytes = sum(len(i.payload) for i in lane.items)
        deadline = time.monotonic() + self._opt.revoke_grace_s
        while time.monotonic() < deadline and any(
            lane.busy and lane.in_flight_tps & revoked for lane in self._lanes.values()
        ):
            self._drain_results(block_s=0.05)
        self._dlq.flush(max(0.0, min(5.0, deadline - time.monotonic())))
        self._maybe_commit(self._clock.monotonic(), force=True)
        for tp in revoked:
            left = self._tracker.unfinished(tp)
            if left:
                log.info("revoked_with_unfinished", topic=tp.topic, partition=tp.partition, unfinished=left)
            self._tracker.forget(tp)
            self._gens.pop(tp, None)
            self._lane_of.pop(tp, None)
            self._paused_bp.discard(tp)
            self._over_since.pop(tp, None)
            self._rewound.pop(tp, None)
            self._rewind_backoff.pop(tp, None)
        self.status.assigned = len(self._gens)
        log.info("partitions_revoked", partitions=[f"{tp.topic}[{tp.partition}]" for tp in partitions])

    # ------------------------------------------------------------------ ingest

    def _ingest_all(self, records: list[SourceRecord]) -> None:
        counts: dict[str, int] = {}
        skip: set[TopicPartition] = set()
        now = self._clock.monotonic()
        end = len(records)
        start = 0
        # librdkafka hands out runs of one partition's records: route each run as a unit.
        while start < end:
            first = records[start]
            topic, partition = first.topic, first.partition
            stop = start + 1
            while stop < end and records[stop].partition == partition and records[stop].topic == topic:
                stop += 1
            tp = TopicPartition(topic, partition)
            if tp not in skip:
                taken = self._ingest(records, start, stop, tp, now)
                counts[topic] = counts.get(topic, 0) + taken
                if taken < stop - start:
                    skip.add(tp)
            start = stop
            if self._in_flight and not self._results.empty():
                # a lane came free while this poll was being routed: refill it now, not after the poll
                self._drain_results()
                self._flush_lanes(now, force=False)
        for topic, n in counts.items():
            m.RECORDS_CONSUMED.labels(topic).inc(n)
        self.status.consumed += sum(counts.values())

    def _ingest(self, records: list[SourceRecord], start: int, stop: int, tp: TopicPartition, now: float) -> int:
        """Route records[start:stop], all of partition `tp`; how many were consumed (fewer after a rewind)."""
        gen = self._gens.get(tp)
        if gen is None:
            return stop - start  # not (or no longer) ours
        pipeline = self._router.pipeline_for(tp.topic)
        name = pipeline.mapper.name if pipeline else None
        decode, encode, track = self._decode, self._encode, self._tracker.track
        lane: _Lane | None = None
        backoff_reset = False
        for i in range(start, stop):
            record = records[i]
            try:
                value = decode(pipeline, record)
            except RetriableError as exc:
                self._rewind(record, tp, exc, now)
                return i - start + 1
            if not backoff_reset:
                self._rewind_backoff.pop(tp, None)
                backoff_reset = True
            track(tp, record.offset)
            try:
                if isinstance(value, RecordError):
                    raise value
                assert pipeline is not None and name is not None
                payload = encode(pipeline, record, value)
            except RecordError as exc:
                self._dead_letter(record, gen, exc, name)
                continue
            if lane is None:
                lane = self._lane_of.get(tp) or self._assign_lane(pipeline.mapper.route, tp)
            if not lane.items:
                lane.nbytes = 0
            lane.items.append(_Item(record, gen, name, payload, now))
            lane.nbytes += len(payload) + 1
        return stop - start

    @staticmethod
    def _decode(pipeline: Pipeline | None, record: SourceRecord) -> Any:
        """The decoded value, or a RecordError as a value; raises only RetriableError and FatalError."""
        if pipeline is None:
            return DecodeError("no-mapping", f"no mapping handles topic {record.topic}")
        try:
            return pipeline.deserializer(record)
        except (RetriableError, FatalError):
            raise
        except RecordError as exc:
            return exc
        except Exception as exc:  # a decoder bug must not stop the worker or lose the record
            return DecodeError("decode-failed", f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _encode(pipeline: Pipeline, record: SourceRecord, value: Any) -> bytes:
        """Map and serialise one record; raises only RecordError."""
        return map_record(pipeline.mapper, record, value)[1]

    def _assign_lane(self, route: Route, tp: TopicPartition) -> _Lane:
        n = self._lane_counter.get(route, 0)
        self._lane_counter[route] = n + 1
        key = (route, n % self._b.max_in_flight)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(route)
        self._lane_of[tp] = lane
        return lane

    def _rewind(self, record: SourceRecord, tp: TopicPartition, exc: RetriableError, now: float) -> None:
        """A transient decode failure: re-read this record later; nothing is tracked or committed past it."""
        backoff = self._rewind_backoff.get(tp, self._opt.retry_decode_after_s / 2) * 2
        backoff = min(backoff, self._opt.max_retry_decode_after_s)
        if isinstance(exc, RetryAfterError):
            backoff = max(backoff, exc.retry_after)
        self._rewind_backoff[tp] = backoff
        self._rewound[tp] = now + backoff
        self._source.seek(tp, record.offset)
        self._source.pause([tp])
        log.warning(
            "decode_retry_later", topic=tp.topic, partition=tp.partition, offset=record.offset,
            error=str(exc), retry_in_s=round(backoff, 2),
        )

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

        log.info(
            "record_dead_lettered", topic=record.topic, partition=record.partition, offset=offset,
            reason=error.reason, stage=error.stage, error=error.message[:300],
        )
        self._dlq.send(record, error, written, mapping)

    def _flush_lanes(self, now: float, force: bool) -> None:
        b = self._b
        linger = b.linger_ms / 1000.0
        for lane in self._lanes.values():
            if self._in_flight >= b.max_in_flight:
                return
            if lane.busy or not lane.items:
                continue
            if force or len(lane.items) >= b.max_records or lane.nbytes >= b.max_bytes or (
                now - lane.items[0].since >= linger
            ):
                self._send(lane)

    def _send(self, lane: _Lane) -> None:
        b = self._b
        items = lane.items
        limit = min(b.max_records, len(items))
        batch: list[_Item] = []
        size = 0
        while len(batch) < limit:
            n = len(items[0].payload)
            if batch and batch_size(size + n, len(batch) + 1) > b.max_bytes:
                break
            batch.append(items.popleft())
            size += n
        lane.nbytes -= size + len(batch)
        lane.busy = True
        parts = {(i.record.topic, i.record.partition) for i in batch}
        lane.in_flight_tps = frozenset(TopicPartition(t, p) for t, p in parts)
        self._in_flight += 1
        payloads = [i.payload for i in batch]
        future = self._pool.submit(self._sink.deliver, lane.route, payloads, self._cancel)
        future.add_done_callback(lambda f: self._results.put((lane, batch, f)))

    def _drain_results(self, block_s: float = 0.0) -> None:
        while True:
            try:
                lane, batch, future = self._results.get(timeout=block_s) if block_s else self._results.get_nowait()
            except queue.Empty:
                return
            block_s = 0.0
            lane.busy = False
            lane.in_flight_tps = frozenset()
            self._in_flight -= 1
            self._apply(lane, batch, future)

    def _apply(self, lane: _Lane, batch: list[_Item], future: Future[list[Outcome]]) -> None:
        exc = future.exception() if not future.cancelled() else DeliveryAbandoned("cancelled")
        if isinstance(exc, DeliveryAbandoned):
            return
        if isinstance(exc, FatalError):
            raise exc
        outcomes: Any = future.result() if exc is None else None
        if exc is not None or len(outcomes) != len(batch):
            # A sink bug: never finalise on doubt; put the batch back at the head of its lane.
            log.error("delivery_failed_unexpectedly", error=repr(exc), records=len(batch))
            live = [i for i in batch if self._gens.get(i.record.tp) == i.gen]
            lane.items.extendleft(reversed(live))
            lane.nbytes += sum(len(i.payload) + 1 for i in live)
            return
        delivered: dict[str, int] = {}
        complete = self._tracker.complete
        tps: dict[tuple[str, int], tuple[TopicPartition, int | None]] = {}
        for item, outcome in zip(batch, outcomes, strict=True):
            rec = item.record
            key = (rec.topic, rec.partition)
            known = tps.get(key)
            if known is None:
                tp = TopicPartition(rec.topic, rec.partition)
                known = tps[key] = (tp, self._gens.get(tp))
            tp, gen = known
            if gen != item.gen:
                continue
            if isinstance(outcome, Accepted):
                complete(tp, rec.offset)
                delivered[item.mapping] = delivered.get(item.mapping, 0) + 1
            else:
                self._dead_letter(rec, item.gen, outcome, item.mapping)
        total = sum(delivered.values())
        if total:
            for name, n in delivered.items():
                m.RECORDS_DELIVERED.labels(name, *lane.route.metric_labels).inc(n)
            self.status.delivered += total
        self.status.last_delivery_ok = self._clock.monotonic()

    # ------------------------------------------------------------------ flow control and commits

    def _backpressure(self, now: float) -> None:
        """Two tiers, so a busy pipeline never churns librdkafka's fetch queue.

        A partition holding its share of `max_buffered_records` closes the poll gate: the loop stops
        taking records (librdkafka's bounded pre-fetch queue keeps the rest) until deliveries make
        room. Only a partition that stays over its share for `pause_after_s` with no progress (an
        outage, a stuck route) is paused, which keeps the consumer polling within
        max.poll.interval.ms; it resumes when its backlog halves. Pausing on every high-water mark
        instead halved throughput: each resume discards the pre-fetched data and refetches it.
        """
        if now - self._last_bp_check < 0.01:
            return
        self._last_bp_check = now
        resume_rewound = [tp for tp, at in self._rewound.items() if at <= now]
        for tp in resume_rewound:
            del self._rewound[tp]
        assigned = len(self._gens) or 1
        high = max(self._b.max_records, self._b.max_buffered_records // assigned)
        to_pause: list[TopicPartition] = []
        to_resume: list[TopicPartition] = []
        gate_open = True
        for tp in self._gens:
            n = self._tracker.unfinished(tp)
            if tp in self._paused_bp:
                if n <= high // 2:
                    self._paused_bp.discard(tp)
                    if tp not in self._rewound:
                        to_resume.append(tp)
                continue
            if n < high:
                self._over_since.pop(tp, None)
                continue
            since = self._over_since.setdefault(tp, now)
            if now - since >= self._opt.pause_after_s:
                del self._over_since[tp]
                self._paused_bp.add(tp)
                if tp not in self._rewound:
                    to_pause.append(tp)
            elif tp not in self._rewound:
                gate_open = False
        self._poll_gate_open = gate_open
        to_resume += [tp for tp in resume_rewound if tp not in self._paused_bp and tp in self._gens]
        if to_pause:
            self._source.pause(to_pause)
            log.info("partitions_paused", reason="backpressure", count=len(to_pause))
        if to_resume:
            self._source.resume(to_resume)
        paused = len(self._paused_bp | set(self._rewound))
        self.status.paused = paused
        m.PAUSED_PARTITIONS.set(paused)

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
