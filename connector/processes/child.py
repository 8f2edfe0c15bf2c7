"""One worker process under the supervisor: the same worker as `aep-connector run`, reporting its status.

Started with the `spawn` method, so it is a fresh interpreter that loads the config itself (the
environment, and so every secret, is inherited). Prometheus metrics go to the shared multiprocess
directory the supervisor set in PROMETHEUS_MULTIPROC_DIR; the supervisor serves them and the
health endpoints. Every `STATUS_INTERVAL_S` the worker's status travels to the supervisor over a
pipe. Exit codes: 0 stopped on request, 3 fatal error (the supervisor stops everything, as a
single-process `run` exits 3), anything else a crash (the supervisor restarts the process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

STATUS_INTERVAL_S = 0.5
EXIT_FATAL = 3


def snapshot(status: Any) -> dict[str, Any]:
    """A WorkerStatus as a plain dict (read without locks from another thread, like the health server)."""
    out = {f.name: getattr(status, f.name) for f in dataclasses.fields(status)}
    out["dead_letter_reasons"] = dict(out["dead_letter_reasons"])
    return out


def _report(status: Any, conn: Connection, stop: threading.Event) -> None:
    while True:
        try:
            conn.send(snapshot(status))
        except RuntimeError:  # the reasons dict changed while copied: next time
            pass
        except OSError:  # the supervisor is gone
            return
        if stop.wait(STATUS_INTERVAL_S):
            return


def main(config: str, index: int, conn: Connection) -> None:
    """The target of the child process (never returns: exits with the codes above)."""
    import structlog

    from connector.app import build_worker, compile_plan, settle_heap
    from connector.config import load_settings
    from connector.errors import ConfigError, FatalError
    from connector.observability.events import close_all
    from connector.observability.logging import configure_logging, register_settings_secrets
    from connector.observability.progress import start_progress
    from connector.observability.startup import starting_fields

    structlog.contextvars.bind_contextvars(process=index)
    log = structlog.get_logger("connector.run")
    try:
        settings = load_settings(config)
        register_settings_secrets(settings)
        configure_logging(settings.observability.log_format, settings.observability.log_level)
        plan = compile_plan(settings)
        log.info("connector_starting", **starting_fields(settings, plan.mappings))
        worker = build_worker(plan)
    except (ConfigError, FatalError) as exc:
        close_all()
        log.error("connector_failed", stage="start", error=str(exc))
        sys.exit(EXIT_FATAL)
    progress = start_progress(settings, worker) if settings.observability.progress_interval_s > 0 else None

    def stop(signum: int, _: FrameType | None) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # Ctrl-C reaches the whole process group; stop cleanly
    done = threading.Event()
    reporter = threading.Thread(target=_report, args=(worker.status, conn, done), name="status", daemon=True)
    reporter.start()
    code = 0
    settle_heap()
    try:
        worker.run()
    except FatalError as exc:
        log.error("connector_failed", stage="run", error=str(exc))
        code = EXIT_FATAL
    finally:
        done.set()
        reporter.join(2.0)
        with contextlib.suppress(OSError, RuntimeError):
            conn.send(snapshot(worker.status))
        if progress is not None:
            progress.close()
        close_all()
    sys.exit(code)
