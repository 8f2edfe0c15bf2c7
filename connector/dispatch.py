"""ThreadDispatcher: runs the sink's deliveries on daemon threads (connector.interfaces.Dispatcher)."""

from __future__ import annotations

import queue
import threading
import time
from typing import Generic

import structlog

from connector.interfaces import J

log = structlog.get_logger(__name__)


class ThreadDispatcher(Generic[J]):
    """`threads` daemon threads run submitted jobs; finished jobs come back to the loop through a queue.

    Daemon threads, so a delivery stuck in a request (or retrying with nobody left to cancel it) can
    never keep the process alive after the worker shut down: its records are simply not committed.
    Threads start with the first job.
    """

    def __init__(self, threads: int, name: str = "dcs") -> None:
        self._threads = threads
        self._name = name
        self._jobs: queue.SimpleQueue[J | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[J] = queue.SimpleQueue()
        self._started = False
        self._closed = False

    def submit(self, job: J) -> None:
        if self._closed:
            raise RuntimeError("dispatcher is closed")
        if not self._started:
            self._started = True
            for i in range(self._threads):
                threading.Thread(target=self._work, name=f"{self._name}-{i}", daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job.run()
            except Exception as exc:  # Job.run keeps its errors; a bug here must not kill the thread
                log.error("job_failed", error=repr(exc))
            self._done.put(job)

    def finished(self, wait_s: float) -> list[J]:
        out: list[J] = []
        try:
            out.append(self._done.get(timeout=wait_s) if wait_s > 0 else self._done.get_nowait())
            while True:
                out.append(self._done.get_nowait())
        except queue.Empty:
            return out

    def monotonic(self) -> float:
        return time.monotonic()

    def close(self) -> None:
        """Threads end after their current job; jobs still queued run first (cancel them before)."""
        if not self._closed:
            self._closed = True
            for _ in range(self._threads if self._started else 0):
                self._jobs.put(None)
