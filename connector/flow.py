"""Flow control per partition: the poll gate, backpressure pauses and decode rewinds.

Two tiers of backpressure, so a busy pipeline never churns librdkafka's fetch queue. A partition
holding its share of `max_buffered_records` closes the poll gate: the loop stops taking records
(librdkafka's bounded pre-fetch queue keeps the rest) until deliveries make room. Only a partition
that stays over its share for `pause_after_s` with no progress (an outage, a stuck route) is
paused, which keeps the consumer polling within max.poll.interval.ms; it resumes when its backlog
halves. Pausing on every high-water mark instead halved throughput: each resume discards the
pre-fetched data and refetches it.

A transient decode failure (schema registry down) *rewinds* the partition: seek back to the record
that failed, pause, and resume after a backoff, so nothing past it is tracked or committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from connector.config import BatchingSettings
from connector.errors import RetriableError, RetryAfterError
from connector.interfaces import RecordSource
from connector.observability import metrics as m
from connector.records import SourceRecord, TopicPartition

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FlowOptions:
    retry_decode_after_s: float = 2.0
    max_retry_decode_after_s: float = 30.0
    pause_after_s: float = 2.0  # a partition over its buffer share this long with no progress is paused


class FlowControl:
    """Decides when the loop polls, and which partitions are paused, resumed or rewound."""

    def __init__(self, source: RecordSource, batching: BatchingSettings, options: FlowOptions) -> None:
        self._source = source
        self._b = batching
        self._opt = options
        self.gate_open = True
        self.paused = 0
        self._paused_bp: set[TopicPartition] = set()
        self._over_since: dict[TopicPartition, float] = {}  # partition -> when it went over its share
        self._rewound: dict[TopicPartition, float] = {}  # partition -> monotonic time to resume
        self._rewind_backoff: dict[TopicPartition, float] = {}
        self._last_check = 0.0

    def rewind(self, record: SourceRecord, tp: TopicPartition, exc: RetriableError, now: float) -> None:
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

    def rewinding(self, tp: TopicPartition) -> bool:
        """`tp` was rewound and is not resumed yet: records of it in hand are read again later."""
        return tp in self._rewound

    def progressed(self, tp: TopicPartition) -> None:
        """A record of `tp` decoded: the next rewind starts from the shortest backoff again."""
        self._rewind_backoff.pop(tp, None)

    def forget(self, tp: TopicPartition) -> None:
        self._paused_bp.discard(tp)
        self._over_since.pop(tp, None)
        self._rewound.pop(tp, None)
        self._rewind_backoff.pop(tp, None)

    def check(
        self, now: float, partitions: Iterable[TopicPartition], unfinished: Callable[[TopicPartition], int]
    ) -> None:
        """Open or close the poll gate, pause or resume partitions; at most every 10 ms."""
        if now - self._last_check < 0.01:
            return
        self._last_check = now
        resume_rewound = [tp for tp, at in self._rewound.items() if at <= now]
        for tp in resume_rewound:
            del self._rewound[tp]
        owned = list(partitions)
        high = max(self._b.max_records, self._b.max_buffered_records // (len(owned) or 1))
        to_pause: list[TopicPartition] = []
        to_resume: list[TopicPartition] = []
        gate_open = True
        for tp in owned:
            n = unfinished(tp)
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
        self.gate_open = gate_open
        owned_set = set(owned)
        to_resume += [tp for tp in resume_rewound if tp not in self._paused_bp and tp in owned_set]
        if to_pause:
            self._source.pause(to_pause)
            log.info("partitions_paused", reason="backpressure", count=len(to_pause))
        if to_resume:
            self._source.resume(to_resume)
        self.paused = len(self._paused_bp | set(self._rewound))
        m.PAUSED_PARTITIONS.set(self.paused)
