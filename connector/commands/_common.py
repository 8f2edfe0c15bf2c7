"""Argument helpers shared by the command modules."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from connector.errors import ConfigError

CONFIG_ENV = "AEP_CONNECTOR_CONFIG"
DEFAULT_CONFIG = "connector.yaml"
EXIT_UNREACHABLE = 4  # a service (Kafka, IMS, DCS, schema registry) could not be reached


def add_config_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`-c/--config FILE`; when omitted, `resolve_config` fills it from $AEP_CONNECTOR_CONFIG or ./connector.yaml."""
    parser.add_argument(
        "-c",
        "--config",
        default=None,
        metavar="FILE",
        help=f"connector YAML config file (default: ${CONFIG_ENV}, else ./{DEFAULT_CONFIG})",
    )
    parser.set_defaults(config_required=required)


def resolve_config(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Set `args.config` when -c was not given: $AEP_CONNECTOR_CONFIG, else ./connector.yaml if it exists."""
    if not hasattr(args, "config") or args.config:
        return
    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        args.config = env[CONFIG_ENV]
        return
    here = Path.cwd() if cwd is None else cwd
    if (here / DEFAULT_CONFIG).is_file():
        args.config = str(here / DEFAULT_CONFIG)
        return
    if getattr(args, "config_required", True):
        raise ConfigError(
            [f"no config file: give -c FILE, set {CONFIG_ENV}, or put a {DEFAULT_CONFIG} in {here}"]
        )
