"""Dead-letter topic tools: inspect (counts by reason and source topic, samples) and replay.

Replay re-publishes dead-lettered records (original key, value and headers, without the error
headers) to their original topic (`__connect.errors.topic`) or to a chosen one, and adds
`__aep.replay.of=<dlq topic>/<partition>/<offset>` so duplicates are detectable, and
`__aep.replay.count=<n>`: how often this record has been replayed. The worker keeps a record's
headers when it dead-letters it, so a replayed record that fails again arrives in the dead-letter
topic with its lineage (each dead letter's `replay.of` names the one it was replayed from). A
dead letter already replayed `max_replays` times (default 1: it was replayed, and failed again)
is passed over unless forced, and reported: replaying a cause that is not fixed never loops.
Progress is the
committed offset of the consumer group `<group>.dlq-replay`, and it moves only in this order:
  1. consume a chunk of dead letters (up to the end offsets captured at start);
  2. produce them (acks=all, idempotent) and flush: every record is acknowledged by the broker;
  3. commit the chunk's next offsets synchronously.
A killed replay therefore re-publishes at most the chunk whose commit it did not reach.
Records passed over by a filter (--reason, --since, no origin topic) count as processed.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTP

from connector.config import KafkaSettings
from connector.errors import FatalError, RetriableError
from connector.kafka.dead_letter import ERROR_HEADERS, H_REASON, H_STAGE, H_TIME, H_TOPIC
from connector.ops.clients import connection_config

log = structlog.get_logger(__name__)

REPLAY_HEADER = "__aep.replay.of"
REPLAY_COUNT = "__aep.replay.count"
REPLAY_HEADERS = frozenset({REPLAY_HEADER, REPLAY_COUNT})
PAUSE_ENV = "AEP_CONNECTOR_DLQ_REPLAY_PAUSE_S"  # test hook: sleep after each committed chunk
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
Headers = list[tuple[str, bytes | None]]


def parse_since(text: str, now: float | None = None) -> int:
    """Epoch milliseconds from `30m`/`2h`/`1d`, an ISO 8601 time (UTC if no offset) or epoch ms."""
    now = time.time() if now is None else now
    value = text.strip()
    rel = _RELATIVE.match(value)
    if rel:
        return int((now - float(rel.group(1)) * _UNIT_S[rel.group(2)]) * 1000)
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FatalError(f"--since: expected 30m, 2h, 1d, an ISO 8601 time or epoch ms, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter record as read back, with its error headers decoded."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int | None

    @classmethod
    def of(cls, msg: Any) -> DeadLetter:
        ts_type, ts = msg.timestamp()
        raw = msg.headers() or []
        headers: Headers = [(k, v.encode() if isinstance(v, str) else v) for k, v in raw]
        return cls(msg.partition(), msg.offset(), msg.key(), msg.value(), headers, ts if ts_type else None)

    def header(self, name: str) -> str | None:
        for k, v in reversed(self.headers):
            if k == name:
                return _text(v)
        return None

    @property
    def reason(self) -> str:
        return self.header(H_REASON) or "unknown"

    @property
    def source_topic(self) -> str | None:
        return self.header(H_TOPIC)

    @property
    def failed_at_ms(self) -> int | None:
        value = self.header(H_TIME)
        return int(value) if value and value.isdigit() else self.timestamp_ms

    @property
    def replay_count(self) -> int:
        """How often this record was replayed before it failed again (0: an original failure)."""
        count = self.header(REPLAY_COUNT)
        if count is not None and count.isdigit():
            return int(count)
        return 1 if self.header(REPLAY_HEADER) is not None else 0  # marked before counts were kept

    def matches(self, reason: str | None, since_ms: int | None) -> bool:
        if reason is not None and self.reason != reason:
            return False
        when = self.failed_at_ms
        return since_ms is None or (when is not None and when >= since_ms)

    def replay_headers(self, dlq_topic: str) -> Headers:
        """The original headers without the error headers and older replay marks, plus this replay's marks."""
        kept = [(k, v) for k, v in self.headers if k not in ERROR_HEADERS and k not in REPLAY_HEADERS]
        return [
            *kept,
            (REPLAY_HEADER, f"{dlq_topic}/{self.partition}/{self.offset}".encode()),
            (REPLAY_COUNT, str(self.replay_count + 1).encode()),
        ]


class _Scan:
    """Reads a topic's partitions from given offsets up to the end offsets captured at start."""

    def __init__(self, consumer: Any, topic: str, timeout_s: float) -> None:
        self.consumer = consumer
        self.topic = topic
        self.timeout = timeout_s
        meta = consumer.list_topics(topic=topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise FatalError(f"dead-letter topic {topic!r} not found")
        self.partitions = sorted(meta.partitions)
        self.low: dict[int, int] = {}
        self.end: dict[int, int] = {}
        for p in self.partitions:
            lo, hi = consumer.get_watermark_offsets(KafkaTP(topic, p), timeout=timeout_s, cached=False)
            self.low[p], self.end[p] = lo, hi
        self.pos: dict[int, int] = {}

    def seek_since(self, starts: dict[int, int], since_ms: int | None) -> dict[int, int]:
        """Move each start forward to the first offset at or after `since_ms` (by record timestamp)."""
        if since_ms is None:
            return starts
        query = [KafkaTP(self.topic, p, since_ms) for p in self.partitions]
        found = self.consumer.offsets_for_times(query, timeout=self.timeout)
        out = dict(starts)
        for tp in found:
            at = tp.offset if tp.offset >= 0 else self.end[tp.partition]
            out[tp.partition] = max(out[tp.partition], at)
        return out

    def chunks(self, starts: dict[int, int], size: int, idle_timeout_s: float = 30.0) -> Iterator[list[DeadLetter]]:
        self.pos = {p: max(starts.get(p, self.low[p]), self.low[p]) for p in self.partitions}
        todo = [p for p in self.partitions if self.pos[p] < self.end[p]]
        if not todo:
            return
        self.consumer.assign([KafkaTP(self.topic, p, self.pos[p]) for p in todo])
        idle_since = time.monotonic()
        while any(self.pos[p] < self.end[p] for p in todo):
            batch: list[DeadLetter] = []
            for msg in self.consumer.consume(num_messages=size, timeout=1.0):
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise RetriableError(f"reading {self.topic}: {err.str()}")
                    continue
                p, off = msg.partition(), msg.offset()
                if off >= self.end[p]:
                    self.pos[p] = max(self.pos[p], self.end[p])
                    continue
                batch.append(DeadLetter.of(msg))
                self.pos[p] = off + 1
            self._skip_gaps(todo)
            if batch:
                idle_since = time.monotonic()
                yield batch
            elif time.monotonic() - idle_since > idle_timeout_s:
                raise RetriableError(f"no records from {self.topic} for {idle_timeout_s:.0f}s before its end offsets")

    def _skip_gaps(self, todo: Sequence[int]) -> None:
        """Control records (transaction markers) take offsets nothing is delivered for: trust position()."""
        open_parts = [KafkaTP(self.topic, p) for p in todo if self.pos[p] < self.end[p]]
        if not open_parts:
            return
        for tp in self.consumer.position(open_parts):
            if tp.offset >= 0:
                self.pos[tp.partition] = max(self.pos[tp.partition], min(tp.offset, self.end[tp.partition]))


def _consumer(kafka: KafkaSettings, group: str) -> Any:
    conf = connection_config(kafka)
    conf.update(
        {
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )
    return Consumer(conf, logger=None)


@dataclass(slots=True)
class InspectReport:
    topic: str
    total: int = 0
    matched: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    by_stage: Counter[str] = field(default_factory=Counter)
    by_replay_count: Counter[int] = field(default_factory=Counter)
    samples: list[DeadLetter] = field(default_factory=list)


def inspect(
    kafka: KafkaSettings,
    topic: str,
    *,
    reason: str | None = None,
    since_ms: int | None = None,
    limit: int = 3,
    timeout_s: float = 10.0,
) -> InspectReport:
    """Read the whole dead-letter topic (up to its current end) without committing anything."""
    consumer = _consumer(kafka, f"aep-connector-dlq-inspect-{uuid.uuid4().hex[:8]}")
    report = InspectReport(topic)
    try:
        scan = _Scan(consumer, topic, timeout_s)
        starts = scan.seek_since(dict(scan.low), since_ms)
        for chunk in scan.chunks(starts, 1000):
            for dl in chunk:
                report.total += 1
                if not dl.matches(reason, since_ms):
                    continue
                report.matched += 1
                report.by_reason[dl.reason] += 1
                report.by_topic[dl.source_topic or "?"] += 1
                report.by_stage[dl.header(H_STAGE) or "?"] += 1
                report.by_replay_count[dl.replay_count] += 1
                if len(report.samples) < limit:
                    report.samples.append(dl)
    except KafkaException as exc:
        raise RetriableError(f"reading {topic}: {exc}") from None
    finally:
        consumer.close()
    return report


def header_values(
    kafka: KafkaSettings, topic: str, header: str, *, since_ms: int | None = None, timeout_s: float = 10.0
) -> set[str]:
    """Every value of `header` in `topic` (records from `since_ms` on), read to the current end, nothing committed.

    An absent topic has no values.
    """
    consumer = _consumer(kafka, f"aep-connector-dlq-scan-{uuid.uuid4().hex[:8]}")
    values: set[str] = set()
    try:
        try:
            scan = _Scan(consumer, topic, timeout_s)
        except FatalError:
            return values
        for chunk in scan.chunks(scan.seek_since(dict(scan.low), since_ms), 1000):
            values.update(v for dl in chunk if (v := dl.header(header)) is not None)
    except KafkaException as exc:
        raise RetriableError(f"reading {topic}: {exc}") from None
    finally:
        consumer.close()
    return values


@dataclass(slots=True)
class ReplayReport:
    topic: str
    group: str
    replayed: int = 0
    skipped: int = 0
    no_origin: int = 0
    already_replayed: int = 0  # passed over: replayed max_replays times already, and failed again
    chunks: int = 0
    by_target: Counter[str] = field(default_factory=Counter)
    start: dict[int, int] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    reason: str | None = None
    since_ms: int | None = None
    to: str = "original"
    dry_run: bool = False
    chunk_size: int = 500
    timeout_s: float = 10.0
    max_replays: int | None = 1  # None (--force): replay whatever its lineage


class Replayer:
    def __init__(
        self,
        kafka: KafkaSettings,
        dlq_topic: str,
        group: str,
        options: ReplayOptions,
        on_chunk: Callable[[ReplayReport], None] | None = None,
    ) -> None:
        if options.to == dlq_topic:
            raise FatalError(f"--to {dlq_topic}: replaying into the dead-letter topic itself would loop")
        self._kafka = kafka
        self._topic = dlq_topic
        self._group = group
        self._opt = options
        self._on_chunk = on_chunk
        self._pause = float(os.environ.get(PAUSE_ENV, "0") or 0)

    def run(self) -> ReplayReport:
        consumer = _consumer(self._kafka, self._group)
        producer = None if self._opt.dry_run else Producer(self._producer_config(), logger=None)
        report = ReplayReport(self._topic, self._group)
        try:
            scan = _Scan(consumer, self._topic, self._opt.timeout_s)
            starts = self._committed(consumer, scan)
            starts = scan.seek_since(starts, self._opt.since_ms)
            report.start, report.end = dict(starts), dict(scan.end)
            log.info("dlq_replay_started", topic=self._topic, group=self._group, start=starts, end=scan.end)
            for chunk in scan.chunks(starts, self._opt.chunk_size):
                self._replay_chunk(chunk, producer, report)
                if not self._opt.dry_run:
                    self._commit(consumer, scan)
                report.chunks += 1
                log.info(
                    "dlq_replay_chunk_committed",
                    chunk=report.chunks,
                    replayed=report.replayed,
                    skipped=report.skipped,
                    dry_run=self._opt.dry_run,
                )
                if self._on_chunk is not None:
                    self._on_chunk(report)
                if self._pause:
                    time.sleep(self._pause)
        except KafkaException as exc:
            raise RetriableError(f"replaying {self._topic}: {exc}") from None
        finally:
            consumer.close()
        return report

    def _producer_config(self) -> dict[str, Any]:
        conf = connection_config(self._kafka)
        conf.update({k: v for k, v in self._kafka.producer.items() if k.startswith(("compression.", "linger."))})
        conf.update({"acks": "all", "enable.idempotence": True})
        return conf

    def _committed(self, consumer: Any, scan: _Scan) -> dict[int, int]:
        parts = [KafkaTP(self._topic, p) for p in scan.partitions]
        done = consumer.committed(parts, timeout=self._opt.timeout_s)
        return {tp.partition: tp.offset if tp.offset >= 0 else scan.low[tp.partition] for tp in done}

    def _replay_chunk(self, chunk: list[DeadLetter], producer: Any, report: ReplayReport) -> None:
        failures: list[str] = []

        def delivered(err: KafkaError | None, _: Any) -> None:
            if err is not None:
                failures.append(err.str())

        for dl in chunk:
            if not dl.matches(self._opt.reason, self._opt.since_ms):
                report.skipped += 1
                continue
            target = dl.source_topic if self._opt.to == "original" else self._opt.to
            if not target or target == self._topic:
                report.no_origin += 1
                report.skipped += 1
                continue
            limit = self._opt.max_replays
            if limit is not None and dl.replay_count >= limit:
                report.already_replayed += 1
                report.skipped += 1
                continue
            report.replayed += 1
            report.by_target[target] += 1
            if producer is None:
                continue
            while True:
                try:
                    producer.produce(
                        target,
                        value=dl.value,
                        key=dl.key,
                        headers=dl.replay_headers(self._topic),
                        on_delivery=delivered,
                    )
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        if producer is not None:
            left = producer.flush(max(30.0, self._opt.timeout_s))
            if left or failures:
                raise RetriableError(
                    f"{left} replayed records unacknowledged, {len(failures)} failed ({failures[:3]}); "
                    "this chunk was not committed: run the replay again"
                )

    def _commit(self, consumer: Any, scan: _Scan) -> None:
        offsets = [KafkaTP(self._topic, p, off) for p, off in scan.pos.items()]
        consumer.commit(offsets=offsets, asynchronous=False)
