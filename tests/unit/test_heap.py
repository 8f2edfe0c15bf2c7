"""The worker settles the heap (frozen start-up objects, rarer young collections) just before its loop."""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from connector import app
from connector.commands import run as run_command
from connector.processes import child
from connector.worker import WorkerStatus

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "connector.example.yaml"


def test_settle_heap_freezes_start_up_objects_and_keeps_collecting_new_cycles() -> None:
    """In a fresh interpreter (a frozen heap would outlive this test): the young threshold is raised,
    the older ones kept, start-up objects frozen, and a cycle made afterwards is still collected."""
    code = textwrap.dedent(
        """
        import gc, weakref
        from connector.app import GC_GEN0_THRESHOLD, settle_heap
        before = gc.get_threshold()
        settle_heap()
        after = gc.get_threshold()
        assert after == (GC_GEN0_THRESHOLD, before[1], before[2]), (before, after)
        assert gc.get_freeze_count() > 1_000, gc.get_freeze_count()
        class Node:
            pass
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        gc.collect()
        assert alive() is None, "a cycle made after settle_heap was not collected"
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


class _Worker:
    """Records the collector's young threshold at the moment the loop starts."""

    def __init__(self) -> None:
        self.status = WorkerStatus()
        self.threshold_at_run: int | None = None

    def run(self) -> None:
        self.threshold_at_run = gc.get_threshold()[0]

    def stop(self) -> None:
        pass


@pytest.fixture
def fake_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Worker]:
    """build_worker returns a _Worker. What the entry points change in this process (the collector,
    signal handlers, logging configuration, the child's bound context) is put back afterwards."""
    worker = _Worker()
    monkeypatch.setattr(app, "build_worker", lambda plan: worker)
    monkeypatch.setattr(app, "start_services", lambda plan, w: app.Services())
    threshold = gc.get_threshold()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    logging_config = structlog.get_config()
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    yield worker
    gc.unfreeze()
    gc.set_threshold(*threshold)
    for s, handler in handlers.items():
        signal.signal(s, handler)
    structlog.configure(**logging_config)
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = root_handlers
    root.setLevel(root_level)


def test_run_settles_the_heap_before_the_loop(fake_worker: _Worker) -> None:
    assert run_command.main(argparse.Namespace(config=str(CONFIG), processes=1)) == 0
    assert fake_worker.threshold_at_run == app.GC_GEN0_THRESHOLD


def test_each_supervised_process_settles_the_heap_before_the_loop(fake_worker: _Worker) -> None:
    mine, theirs = multiprocessing.Pipe()
    with pytest.raises(SystemExit) as stopped:
        child.main(str(CONFIG), 0, theirs)
    assert stopped.value.code == 0
    assert fake_worker.threshold_at_run == app.GC_GEN0_THRESHOLD
    mine.close()
