"""`aep-connector check -c FILE`: print every problem of a config and its mappings (exit 2), or exit 0.

Mappings with `schema:` have their XDM schema fetched once (no retrying) and checked against the
mapping (class, tenant, mapped fields the schema lacks); a schema AEP cannot serve is reported
with what the worker would do about it. Notes (exit 0) say what is worth knowing but not wrong.
"""

from __future__ import annotations

import argparse
import sys

from connector.commands._common import add_config_arg

NAME = "check"
HELP = "validate a config file and its mappings, listing every problem (exit 2) or confirming it (exit 0)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)


def collect_problems(path: str) -> list[str]:
    """Every problem of the config file, its mappings, their decoders and their XDM schemas."""
    return collect(path)[0]


def collect(path: str) -> tuple[list[str], list[str]]:
    """(problems, notes) of the config file."""
    from connector.clock import SystemClock
    from connector.config import read_settings
    from connector.mapping import compile_mappings
    from connector.serde.factory import build_deserializers
    from connector.xdm.service import load_schemas

    settings, problems = read_settings(path)
    if settings is None:
        return problems, []
    compiled, mapping_problems = compile_mappings(settings.mappings, settings.aep)
    problems += mapping_problems
    notes: list[str] = []
    if not mapping_problems:
        problems += build_deserializers(compiled, settings)[1]
        _, found = load_schemas(settings, [mp.parsed for mp in compiled], clock=SystemClock(), wait=False)
        problems += found.problems + found.unavailable
        notes += found.notes
    notes += [
        f"mapping {mp.name}: no schema: records are not validated before sending (AEP drops schema-invalid "
        "records asynchronously, after accepting them); set schema: from-dataset to validate"
        for mp in compiled
        if mp.parsed.schema is None
    ]
    return problems, notes


def main(args: argparse.Namespace) -> int:
    problems, notes = collect(args.config)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if problems:
        print(f"{args.config}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 2
    print(f"{args.config}: OK")
    return 0
