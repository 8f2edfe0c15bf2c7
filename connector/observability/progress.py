"""The progress line: every `observability.progress_interval_s` (30 s; 0 = off) one `progress` event.

    progress consumed=1500 delivered=1490 dead_lettered=10 dead_lettered_by_reason={"invalid-json": 10}
             consumed_per_s=50.0 delivered_per_s=49.7 lag=120 paused=0 in_flight=2 buffered=35 assigned=6
             total_delivered=20480 total_dead_lettered=31

Counts are since the previous line; `total_*` since start. It reads the worker's WorkerStatus
(plain reads from another thread, like the health endpoints) and the group's total lag: from the
lag gauges' refresher when metrics are on, else read here once per line (nothing joins the group).
A last line is logged when the worker stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from connector.config import Settings
from connector.errors import RetriableError
from connector.observability.lag import LagMonitor
from connector.observability.server import HasStatus
from connector.ops.lag import LagReader

LagTotal = Callable[[], int | None]


class ProgressReporter:
    def __init__(
        self,
        worker: HasStatus,
        interval_s: float,
        lag: LagTotal,
        *,
        logger: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._worker = worker
        self._interval = interval_s
        self._lag = lag
        self._log = logger if logger is not None else structlog.get_logger("connector.progress")
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_at = clock()
        self._last = (0, 0, 0)
        self._last_reasons: dict[str, int] = {}

    def report(self) -> dict[str, Any]:
        """Log one progress line (and return its fields)."""
        st, now = self._worker.status, self._clock()
        elapsed = max(now - self._last_at, 1e-9)
        totals = (st.consumed, st.delivered, st.dead_lettered)
        consumed, delivered, dead = (now_n - last_n for now_n, last_n in zip(totals, self._last, strict=True))
        reasons = dict(st.dead_letter_reasons)
        by_reason = {r: n - self._last_reasons.get(r, 0) for r, n in sorted(reasons.items())}
        fields: dict[str, Any] = {
            "consumed": consumed,
            "delivered": delivered,
            "dead_lettered": dead,
            "dead_lettered_by_reason": {r: n for r, n in by_reason.items() if n},
            "consumed_per_s": round(consumed / elapsed, 1),
            "delivered_per_s": round(delivered / elapsed, 1),
            "lag": self._lag(),
            "paused": st.paused,
            "in_flight": st.in_flight,
            "buffered": st.buffered,
            "assigned": st.assigned,
            "total_delivered": st.delivered,
            "total_dead_lettered": st.dead_lettered,
        }
        self._last_at, self._last, self._last_reasons = now, totals, reasons
        self._log.info("progress", **fields)
        return fields

    def start(self) -> ProgressReporter:
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()
        return self

    def __call__(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the timer and log the last line."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15.0)
        self.report()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.report()
            except Exception as exc:  # the progress line must never take the worker down
                self._log.warning("progress_failed", error=f"{type(exc).__name__}: {exc}")


def lag_reader_total(settings: Settings) -> LagTotal:
    """The group's total lag read on demand (None while Kafka cannot be reached)."""
    reader: LagReader | None = None

    def total() -> int | None:
        nonlocal reader
        if reader is None:
            reader = LagReader.for_kafka(settings.kafka, timeout_s=5.0)
        try:
            return sum(r.lag for r in reader.rows(settings.kafka.group_id, settings.kafka.topics))
        except RetriableError:
            return None

    return total


def start_progress(settings: Settings, worker: HasStatus, monitor: LagMonitor | None = None) -> ProgressReporter:
    """Log the progress line every `progress_interval_s`; the lag comes from `monitor` when it runs."""
    lag: LagTotal = (lambda: monitor.last_total) if monitor is not None else lag_reader_total(settings)
    return ProgressReporter(worker, settings.observability.progress_interval_s, lag).start()
