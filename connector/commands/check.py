"""`aep-connector check -c FILE`: print every problem of a config and its mappings (exit 2), or exit 0."""

from __future__ import annotations

import argparse
import sys

from connector.commands._common import add_config_arg

NAME = "check"
HELP = "validate a config file and its mappings, listing every problem (exit 2) or confirming it (exit 0)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)


def collect_problems(path: str) -> list[str]:
    """Every problem of the config file, its mappings and their decoders."""
    from connector.config import read_settings
    from connector.mapping import compile_mappings
    from connector.routing import routing_problems
    from connector.serde.factory import build_deserializers

    settings, problems = read_settings(path)
    if settings is None:
        return problems
    compiled, mapping_problems = compile_mappings(settings.mappings, settings.aep)
    problems += mapping_problems
    if not mapping_problems:
        problems += build_deserializers(compiled, settings)[1]
        problems += routing_problems(settings, compiled)
    return problems


def main(args: argparse.Namespace) -> int:
    problems = collect_problems(args.config)
    if problems:
        print(f"{args.config}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 2
    print(f"{args.config}: OK")
    return 0
