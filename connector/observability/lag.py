"""A background thread keeping the lag gauges (CONSUMER_LAG, COMMITTED_OFFSET, END_OFFSET) current.

Every replica reports the whole group's lag (read with an AdminClient, see connector.ops.lag),
so dashboards aggregate with `max by (topic, partition)`.
"""

from __future__ import annotations

import contextlib
import threading

import structlog

from connector.config import KafkaSettings
from connector.errors import RetriableError
from connector.observability import metrics as m
from connector.ops.lag import LagReader, LagRow

log = structlog.get_logger(__name__)


class LagMonitor:
    def __init__(self, kafka: KafkaSettings, interval_s: float, reader: LagReader | None = None) -> None:
        self._kafka = kafka
        self._interval = interval_s
        self._reader = reader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._labels: set[tuple[str, str]] = set()
        self._failing = False
        self._missing: list[str] = []
        self.last_total: int | None = None  # total lag at the last successful refresh (the progress line reads it)

    def refresh(self) -> list[LagRow]:
        """Read the lag once and publish it; partitions no longer reported lose their series."""
        if self._reader is None:
            self._reader = LagReader.for_kafka(self._kafka, timeout_s=max(1.0, min(10.0, self._interval * 2)))
        rows = self._reader.rows(self._kafka.group_id, self._kafka.topics)
        self.last_total = sum(r.lag for r in rows)
        if self._reader.missing != self._missing and self._reader.missing:
            log.warning("subscribed_topics_missing", topics=self._reader.missing)
        self._missing = list(self._reader.missing)
        labels: set[tuple[str, str]] = set()
        for r in rows:
            key = (r.topic, str(r.partition))
            labels.add(key)
            m.CONSUMER_LAG.labels(*key).set(r.lag)
            m.END_OFFSET.labels(*key).set(r.end)
            if r.committed is not None:
                m.COMMITTED_OFFSET.labels(*key).set(r.committed)
        for key in self._labels - labels:
            for gauge in (m.CONSUMER_LAG, m.END_OFFSET, m.COMMITTED_OFFSET):
                with contextlib.suppress(KeyError):
                    gauge.remove(*key)
        self._labels = labels
        return rows

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lag-monitor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                rows = self.refresh()
            except Exception as exc:  # the gauges must never take the worker down
                if not self._failing:
                    detail = str(exc) if isinstance(exc, RetriableError) else f"{type(exc).__name__}: {exc}"
                    log.warning("lag_refresh_failed", error=detail)
                self._failing = True
            else:
                if self._failing:
                    log.info("lag_refresh_recovered", partitions=len(rows))
                self._failing = False
            self._stop.wait(self._interval)
