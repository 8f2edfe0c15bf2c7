"""ThreadDispatcher: runs the sink's deliveries on a pool of threads (connector.interfaces.Dispatcher)."""

from __future__ import annotations

import queue
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic

from connector.errors import DeliveryAbandoned
from connector.interfaces import J


class ThreadDispatcher(Generic[J]):
    """`threads` threads run submitted jobs; finished jobs come back to the loop through a queue."""

    def __init__(self, threads: int, name: str = "dcs") -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._done: queue.SimpleQueue[J] = queue.SimpleQueue()

    def submit(self, job: J) -> None:
        future = self._pool.submit(job.run)
        future.add_done_callback(lambda f: self._finish(job, f))

    def _finish(self, job: J, future: Future[None]) -> None:
        if future.cancelled() and hasattr(job, "error"):
            job.error = DeliveryAbandoned("cancelled before it started")
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
        self._pool.shutdown(wait=True, cancel_futures=True)
