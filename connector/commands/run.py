"""`aep-connector run -c FILE [--processes N]`: the worker (N of them under a supervisor)."""

from __future__ import annotations

import argparse
import os
import signal
from types import FrameType

from connector.commands._common import add_config_arg

NAME = "run"
HELP = "run the worker: consume the topics, map to XDM, stream to AEP, commit only what is final"


def _count(text: str) -> int:
    if text == "auto":
        return os.cpu_count() or 1
    n = int(text) if text.isdigit() else 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes >= 1 or 'auto', got {text!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument(
        "--processes", type=_count, default=1, metavar="N",
        help="run N worker processes in the consumer group under one supervisor, to use N cores "
        "('auto': one per CPU; default 1). Kafka splits the partitions between them.",
    )


def main(args: argparse.Namespace) -> int:
    if args.processes > 1:
        from connector.processes.run import run_supervised

        return run_supervised(args.config, args.processes)
    import structlog

    from connector.app import build_worker, compile_plan, settle_heap, start_services
    from connector.config import load_settings
    from connector.errors import FatalError
    from connector.observability.events import close_all
    from connector.observability.logging import configure_logging, register_settings_secrets
    from connector.observability.startup import starting_fields

    log = structlog.get_logger("connector.run")
    settings = load_settings(args.config)
    register_settings_secrets(settings)
    configure_logging(settings.observability.log_format, settings.observability.log_level)
    plan = compile_plan(settings)
    log.info("connector_starting", **starting_fields(settings, plan.mappings))
    try:
        worker = build_worker(plan)
    except FatalError as exc:
        close_all()
        log.error("connector_failed", stage="start", error=str(exc))
        raise
    services = start_services(plan, worker)

    def stop(signum: int, _: FrameType | None) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    settle_heap()
    try:
        worker.run()
    except FatalError as exc:
        close_all()
        log.error("connector_failed", stage="run", error=str(exc))
        raise
    finally:
        services.close()
        close_all()
    return 0
