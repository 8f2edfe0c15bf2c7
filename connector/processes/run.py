"""`run --processes N` wiring: check the config, share metrics, serve the endpoints, supervise."""

from __future__ import annotations

import os
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SHUTDOWN_MARGIN_S = 10.0


def run_supervised(config: str, processes: int) -> int:
    """Run N workers under a supervisor until SIGTERM/SIGINT; the exit code (see supervisor.py)."""
    metrics_dir = tempfile.mkdtemp(prefix="aep-connector-metrics-")
    # prometheus-client picks file-backed values at import: set before it is imported, here and in children.
    os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        return _run(config, processes, metrics_dir)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _run(config: str, processes: int, metrics_dir: str) -> int:
    from prometheus_client import CollectorRegistry, multiprocess

    from connector.app import compile_plan
    from connector.config import load_settings
    from connector.observability.logging import configure_logging, register_settings_secrets
    from connector.processes.health import ProcessesHealth
    from connector.processes.supervisor import Supervisor, install_signals, spawner
    from connector.worker import WorkerOptions

    settings = load_settings(config)
    register_settings_secrets(settings)
    configure_logging(settings.observability.log_format, settings.observability.log_level)
    compile_plan(settings)  # every config problem, before any process starts
    supervisor = Supervisor(
        processes,
        spawner(config),
        shutdown_grace_s=WorkerOptions().shutdown_timeout_s + SHUTDOWN_MARGIN_S,
        on_exit=lambda pid: multiprocess.mark_process_dead(pid, metrics_dir),  # type: ignore[no-untyped-call]
    )
    close = None
    obs = settings.observability
    if obs.metrics_port is not None:
        from connector.observability.server import start_observability

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, metrics_dir)  # type: ignore[no-untyped-call]
        health = ProcessesHealth(supervisor.slots, stuck_after_s=obs.stuck_after_s)
        close = start_observability(settings, None, checks=health, registry=registry)
    install_signals(supervisor)
    try:
        return supervisor.run()
    finally:
        if close is not None:
            close()
