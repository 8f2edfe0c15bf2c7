"""The supervisor of `run --processes N`: restart backoff, fatal exits, shutdown, health over children."""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import pytest

from connector.processes import child
from connector.processes.health import ProcessesHealth
from connector.processes.supervisor import FIRST_BACKOFF_S, MAX_BACKOFF_S, STABLE_AFTER_S, Slot, Supervisor

CTX = multiprocessing.get_context("spawn")


def _exit_with(code: int, conn: Connection) -> None:
    raise SystemExit(code)


def _serve_until_terminated(index: int, conn: Connection) -> None:
    """Like a worker: reports running, exits 0 on SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conn.send({"running": True, "index": index})
    while True:
        time.sleep(0.05)


def test_backoff_doubles_to_a_cap_and_resets_after_a_stable_run() -> None:
    """1, 2, 4 ... 30 s between restarts of a crash-looping process; 1 s again after it ran a minute."""
    slot = Slot(0)
    delays = []
    for _ in range(8):
        slot.started = 100.0
        delays.append(slot.exited(1, 100.5))
    assert delays == [FIRST_BACKOFF_S, 2, 4, 8, 16, MAX_BACKOFF_S, MAX_BACKOFF_S, MAX_BACKOFF_S]
    slot.started = 0.0
    assert slot.exited(-9, STABLE_AFTER_S + 1) == FIRST_BACKOFF_S and slot.restart_at == STABLE_AFTER_S + 2


def _run_in_thread(sup: Supervisor) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(sup.run()), daemon=True)
    thread.start()
    return thread, result


def _wait(cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_crashed_process_is_restarted_and_stop_terminates_every_process() -> None:
    """Slot 0 crashes once and is started again; stop() sends SIGTERM to all and run() returns 0."""
    starts = {0: 0, 1: 0}

    def spawn(index: int, conn: Connection) -> Any:
        starts[index] += 1
        crash = index == 0 and starts[0] == 1
        target, args = (_exit_with, (1, conn)) if crash else (_serve_until_terminated, (index, conn))
        return CTX.Process(target=target, args=args, daemon=True)

    sup = Supervisor(2, spawn, shutdown_grace_s=10.0)
    thread, result = _run_in_thread(sup)
    _wait(lambda: sup.slots[0].restarts == 1 and all(s.status.get("running") for s in sup.slots))
    assert sup.slots[0].last_exit == 1
    pids = [s.pid for s in sup.slots]
    sup.stop()
    thread.join(30)
    assert result == [0]
    assert all(s.process is None for s in sup.slots) and None not in pids


def test_a_fatal_exit_stops_every_process_with_exit_code_3() -> None:
    """A child exiting 3 (fatal: auth, fatal Kafka error) is not restarted: everything stops, code 3."""

    def spawn(index: int, conn: Connection) -> Any:
        if index == 0:
            return CTX.Process(target=_exit_with, args=(child.EXIT_FATAL, conn), daemon=True)
        return CTX.Process(target=_serve_until_terminated, args=(index, conn), daemon=True)

    sup = Supervisor(2, spawn, shutdown_grace_s=10.0)
    thread, result = _run_in_thread(sup)
    thread.join(60)
    assert result == [child.EXIT_FATAL]
    assert sup.slots[0].restarts == 0 and all(s.process is None for s in sup.slots)


class _Alive:
    pid = 1234


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


def _health(slots: list[Slot], clock: list[float]) -> ProcessesHealth:
    return ProcessesHealth(slots, stuck_after_s=30.0, live_within_s=60.0, clock=lambda: clock[0])


def _running(index: int, now: float, **status: Any) -> Slot:
    slot = Slot(index, process=_Alive())  # type: ignore[arg-type]
    slot.status = {"started": now - 10, "last_loop": now, "running": True, "assigned": 2, "delivered": 5, **status}
    return slot


def test_health_lists_every_process_and_fails_readiness_while_one_restarts(clock: list[float]) -> None:
    """Two running children: live and ready; one down: not ready (named), still live until 60 s."""
    up = [_running(0, clock[0]), _running(1, clock[0])]
    health = _health(up, clock)
    assert health.liveness().ok and health.readiness().ok
    assert [p["process"] for p in health.readiness().detail["processes"]] == [0, 1]
    down = Slot(1, last_exit=-9, restarts=1)
    health = _health([up[0], down], clock)
    ready = health.readiness()
    assert not ready.ok and ready.reasons == ["process 1: not running (last exit code -9, restarting)"]
    assert health.liveness().ok
    clock[0] += 61
    up[0].status["last_loop"] = clock[0]
    live = health.liveness()
    assert not live.ok and live.reasons[0].startswith("process 1: not running for 61s")


def test_health_reports_a_wedged_child_loop(clock: list[float]) -> None:
    """A child whose loop stopped reporting progress fails liveness, named by its process index."""
    wedged = _running(1, clock[0] - 120)
    live = _health([_running(0, clock[0]), wedged], clock).liveness()
    assert not live.ok and live.reasons[0].startswith("process 1: worker loop has not run")
