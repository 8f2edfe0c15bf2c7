"""`aep-connector` entry point: one subcommand per module in `connector.commands`.

Each command module defines NAME, HELP, `add_arguments(parser)` and `main(args) -> int`, and
keeps heavy imports inside `main` so `--help` stays fast. `-c FILE` is optional on every command:
$AEP_CONNECTOR_CONFIG, else ./connector.yaml (commands._common.resolve_config).

Exit codes: 0 success; 1 the command ran and found failures (records that did not map or
produce, a lag read that failed); 2 invalid configuration or usage; 3 a fatal error (credentials
refused, Kafka unreachable at start of `run`); 4 a service could not be reached (`check
--connect`, `produce`, `preview --from-topic`); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

import connector.commands as commands_pkg
from connector import __version__
from connector.commands._common import resolve_config
from connector.errors import ConfigError, FatalError


def _command_modules() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"{commands_pkg.__name__}.{info.name}"))
    return mods


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(
        prog="aep-connector",
        description="Stream Kafka topics into Adobe Experience Platform (at-least-once).",
    )
    parser.add_argument("--version", action="version", version=f"aep-connector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    table: dict[str, ModuleType] = {}
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        table[mod.NAME] = mod
    return parser, table


def main(argv: Sequence[str] | None = None) -> int:
    parser, table = build_parser()
    args = parser.parse_args(argv)
    try:
        resolve_config(args)
        code: int = table[args.command].main(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except FatalError as exc:
        print(f"fatal: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    return code
