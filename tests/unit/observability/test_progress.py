"""The progress line reports what happened since the previous line, from the worker's status and the lag."""

from __future__ import annotations

from connector.observability.progress import ProgressReporter
from connector.worker import WorkerStatus
from tests.unit.observability.fakes import Clock, RecordingLogger


class Worker:
    def __init__(self) -> None:
        self.status = WorkerStatus()


def test_progress_line_counts_since_the_previous_line_and_totals() -> None:
    """consumed/delivered/dead-lettered (by reason) are deltas with rates; lag, paused, in flight as they are."""
    worker, clock, logger = Worker(), Clock(), RecordingLogger()
    lag = [None, 120]
    reporter = ProgressReporter(worker, 30.0, lambda: lag[0], logger=logger, clock=clock)
    st = worker.status
    st.consumed, st.delivered, st.dead_lettered = 300, 290, 10
    st.dead_letter_reasons.update({"invalid-json": 10})
    clock.advance(30)
    first = reporter.report()
    assert first["consumed"] == 300 and first["delivered"] == 290 and first["dead_lettered"] == 10
    assert first["dead_lettered_by_reason"] == {"invalid-json": 10} and first["lag"] is None
    assert first["consumed_per_s"] == 10.0
    st.consumed, st.delivered, st.dead_lettered = 600, 580, 20
    st.dead_letter_reasons.update({"invalid-json": 12, "too-large": 8})
    st.paused, st.in_flight, st.buffered, st.assigned = 2, 3, 40, 6
    lag[0] = 120
    clock.advance(10)
    second = reporter.report()
    assert (second["consumed"], second["delivered"], second["dead_lettered"]) == (300, 290, 10)
    assert second["dead_lettered_by_reason"] == {"invalid-json": 2, "too-large": 8}
    assert second["delivered_per_s"] == 29.0 and second["lag"] == 120
    assert (second["paused"], second["in_flight"], second["buffered"], second["assigned"]) == (2, 3, 40, 6)
    assert second["total_delivered"] == 580 and second["total_dead_lettered"] == 20
    assert logger.events() == ["progress", "progress"]


def test_close_logs_a_last_line_once() -> None:
    """Stopping the reporter (worker shut down) logs the final counts once, even if closed twice."""
    worker, logger = Worker(), RecordingLogger()
    reporter = ProgressReporter(worker, 3600.0, lambda: 0, logger=logger).start()
    worker.status.delivered = 5
    reporter.close()
    reporter.close()
    assert logger.events() == ["progress"] and logger.lines[0][2]["delivered"] == 5
