"""`aep-connector demo`: the pipeline end to end on embedded defaults (no services needed)."""

from __future__ import annotations

import argparse
import sys

NAME = "demo"
HELP = "run the whole pipeline on an embedded Kafka and the local AEP emulator, then print a summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    parser.add_argument("--serve", action="store_true", help="keep the emulator (and its page) up afterwards")


def main(args: argparse.Namespace) -> int:
    from connector.demo import run_demo
    from connector.observability.logging import configure_logging

    configure_logging("console", "warning")
    return run_demo(sys.stdout, timeout=args.timeout, serve=args.serve)
