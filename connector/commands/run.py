"""`aep-connector run -c FILE`: the worker."""

from __future__ import annotations

import argparse
import signal
from types import FrameType

from connector.commands._common import add_config_arg

NAME = "run"
HELP = "run the worker: consume the topics, map to XDM, stream to AEP, commit only what is final"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)


def main(args: argparse.Namespace) -> int:
    import structlog

    from connector.app import build_worker, compile_plan, start_services
    from connector.config import load_settings
    from connector.observability.logging import configure_logging, register_settings_secrets

    settings = load_settings(args.config)
    register_settings_secrets(settings)
    configure_logging(settings.observability.log_format, settings.observability.log_level)
    plan = compile_plan(settings)
    worker = build_worker(plan)
    services = start_services(plan, worker)

    def stop(signum: int, _: FrameType | None) -> None:
        structlog.get_logger("connector.run").info("signal_received", signal=signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        worker.run()
    finally:
        services.close()
    return 0
