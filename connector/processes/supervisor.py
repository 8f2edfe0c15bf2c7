"""`aep-connector run --processes N`: N worker processes in one consumer group, one supervisor.

One Python process decodes and maps on one core (the GIL). The supervisor starts N copies of the
worker (child.py), each a member of the configured consumer group, so Kafka's group protocol
splits the partitions between them exactly as between N replicas; nothing is shared or pickled
between them. The supervisor itself consumes nothing. It:

1. validates the config (every problem listed, before any process starts);
2. serves /metrics (prometheus-client multiprocess mode: the children's files merged), /healthz
   and /readyz (every child's verdict, see health.py) and refreshes the lag gauges;
3. restarts a child that crashed, after 1, 2, 4 ... 30 s (reset once it ran for a minute);
4. on SIGTERM or SIGINT forwards SIGTERM to every child, which delivers what it holds, commits
   and exits, and then exits itself (children still running after the shutdown grace are killed);
5. stops every child and exits 3 when one exits with a fatal error (wrong credentials, a fatal
   Kafka error): restarting cannot fix those, as a single-process `run` exits 3 for them.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

import structlog

from connector.processes import child

log = structlog.get_logger(__name__)

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0


class ChildProcess(Protocol):
    """What the supervisor needs of a child (multiprocessing's Process; fakes in unit tests)."""

    @property
    def pid(self) -> int | None: ...

    @property
    def exitcode(self) -> int | None: ...

    @property
    def sentinel(self) -> int: ...

    def start(self) -> None: ...

    def is_alive(self) -> bool: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


Spawn = Callable[[int, Connection], ChildProcess]


@dataclass
class Slot:
    """One of the N process positions: its current process, restarts and last status."""

    index: int
    process: ChildProcess | None = None
    conn: Connection | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    restart_at: float | None = None
    last_exit: int | None = None
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exited(self, code: int, now: float) -> float:
        """Record an unexpected exit; the delay before the restart (doubling, reset after a stable run)."""
        self.last_exit = code
        stable = now - self.started >= STABLE_AFTER_S
        self.backoff = FIRST_BACKOFF_S if stable or not self.backoff else min(self.backoff * 2, MAX_BACKOFF_S)
        self.restart_at = now + self.backoff
        self.process = None
        self.status = {}
        return self.backoff


def spawner(config: str) -> Spawn:
    ctx = multiprocessing.get_context("spawn")

    def spawn(index: int, conn: Connection) -> ChildProcess:
        return ctx.Process(target=child.main, args=(config, index, conn), name=f"aep-connector-{index}")

    return spawn


class Supervisor:
    def __init__(
        self,
        processes: int,
        spawn: Spawn,
        *,
        shutdown_grace_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_exit: Callable[[int], None] = lambda pid: None,
    ) -> None:
        self.slots = [Slot(i) for i in range(processes)]
        self._spawn = spawn
        self._grace = shutdown_grace_s
        self._clock = clock
        self._on_exit = on_exit  # e.g. prometheus multiprocess.mark_process_dead
        self._stopping = False
        self.exit_code = 0

    def stop(self) -> None:
        """Ask every child to stop (safe from a signal handler)."""
        self._stopping = True

    def run(self) -> int:
        log.info("supervisor_started", processes=len(self.slots))
        for slot in self.slots:
            self._start(slot)
        while not self._stopping:
            self.step(timeout=0.5)
        self._shutdown()
        log.info("supervisor_stopped", exit_code=self.exit_code)
        return self.exit_code

    def step(self, timeout: float) -> None:
        """Wait for a status message or a child exit; restart children whose backoff has passed."""
        conns = {s.conn: s for s in self.slots if s.conn is not None}
        procs = {s.process.sentinel: s for s in self.slots if s.process is not None}
        for ready in wait([*conns, *procs], timeout):
            slot = conns.get(ready) if isinstance(ready, Connection) else procs.get(ready)  # type: ignore[arg-type]
            if slot is None:
                continue
            if isinstance(ready, Connection):
                self._read(slot)
            elif slot.process is not None and not slot.process.is_alive():
                self._reap(slot)
        now = self._clock()
        for slot in self.slots:
            if slot.process is None and slot.restart_at is not None and now >= slot.restart_at and not self._stopping:
                slot.restarts += 1
                self._start(slot)

    def _start(self, slot: Slot) -> None:
        parent, child_end = multiprocessing.Pipe(duplex=False)
        process = self._spawn(slot.index, child_end)
        process.start()
        child_end.close()
        slot.process, slot.conn, slot.started, slot.restart_at = process, parent, self._clock(), None
        log.info("process_started", process=slot.index, pid=process.pid, restarts=slot.restarts)

    def _read(self, slot: Slot) -> None:
        assert slot.conn is not None
        try:
            while slot.conn.poll():
                slot.status = slot.conn.recv()
        except (EOFError, OSError):
            slot.conn.close()
            slot.conn = None

    def _reap(self, slot: Slot) -> None:
        process = slot.process
        assert process is not None
        process.join(1.0)
        if slot.conn is not None:
            self._read(slot)
        code = process.exitcode if process.exitcode is not None else -1
        if process.pid is not None:
            self._on_exit(process.pid)
        if code == child.EXIT_FATAL:
            log.error("process_fatal", process=slot.index, pid=process.pid, exit_code=code)
            slot.process, slot.last_exit = None, code
            self.exit_code = child.EXIT_FATAL
            self._stopping = True
            return
        delay = slot.exited(code, self._clock())
        log.warning("process_exited", process=slot.index, pid=process.pid, exit_code=code,
                    restart_in_s=delay, restarts=slot.restarts)  # fmt: skip

    def _shutdown(self) -> None:
        live = [s for s in self.slots if s.process is not None and s.process.is_alive()]
        for slot in live:
            assert slot.process is not None
            slot.process.terminate()  # SIGTERM: the child delivers, commits and exits
        deadline = self._clock() + self._grace
        for slot in live:
            assert slot.process is not None
            slot.process.join(max(0.1, deadline - self._clock()))
            if slot.process.is_alive():
                log.error("process_kill", process=slot.index, pid=slot.process.pid, after_s=self._grace)
                slot.process.kill()
                slot.process.join(5.0)
            if slot.conn is not None:
                self._read(slot)
            code = slot.process.exitcode
            slot.last_exit = code
            if slot.process.pid is not None:
                self._on_exit(slot.process.pid)
            if code not in (0, None) and self.exit_code == 0:
                self.exit_code = 1
            slot.process = None


def install_signals(supervisor: Supervisor) -> None:
    def stop(signum: int, _: Any) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        supervisor.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
