"""`aep-connector check [-c FILE] [--connect]`: validate a config, show its routing, optionally reach every service.

Without --connect nothing is contacted: every problem of the config file, its mappings and
their decoders is listed (exit 2), or `OK` and the routing table are printed (exit 0).
With --connect it then reaches Kafka, the dead-letter topic, IMS, each DCS inlet and the schema
registry without writing data (see connector.ops.checks) and exits 0 (warnings allowed),
2 (the services answered and the configuration is wrong) or 4 (a service could not be reached).

Mappings with `schema:` are checked against their XDM schema (class, tenant, mapped fields the
schema lacks): an exported file or the worker's disk cache without --connect, the live schema
from AEP's Schema Registry with --connect (a schema AEP cannot serve is then said so, with what
the worker would do about it: exit 4). Notes say what is worth knowing but not wrong.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from connector.commands._common import add_config_arg

NAME = "check"
HELP = (
    "validate a config and its mappings and print the routing (exit 0, or 2 listing every problem); "
    "--connect also reaches Kafka, the dead-letter topic, IMS, DCS and the registry (exit 4: unreachable)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument(
        "--connect", action="store_true", help="also reach every service the config names (writes no data)"
    )


def compile_config(path: str) -> tuple[Any, list[Any], list[str]]:
    """(settings, compiled mappings, every problem of the file, its mappings and their decoders)."""
    from connector.config import read_settings
    from connector.mapping import compile_mappings
    from connector.routing import routing_problems
    from connector.serde.factory import build_deserializers

    settings, problems = read_settings(path)
    if settings is None:
        return None, [], problems
    compiled, mapping_problems = compile_mappings(settings.mappings, settings.aep)
    problems += mapping_problems
    if not mapping_problems:
        problems += build_deserializers(compiled, settings)[1]
        problems += routing_problems(settings, compiled)
    return settings, compiled, problems


def collect_problems(path: str) -> list[str]:
    """Every problem of the config file, its mappings and their decoders."""
    return compile_config(path)[2]


def schema_findings(settings: Any, compiled: list[Any], connect: bool) -> tuple[list[str], list[str], list[str]]:
    """(problems, unreachable, notes) of the mappings' XDM schemas; AEP is contacted only with `connect`."""
    from connector.clock import SystemClock
    from connector.xdm.service import load_schemas

    specs = [mp.parsed for mp in compiled]
    _, found = load_schemas(settings, specs, clock=SystemClock(), wait=False, fetch=connect)
    notes = list(found.notes)
    unvalidated = [s.name for s in specs if s.schema is None]
    if unvalidated:
        notes.append(
            f"no schema: for mapping(s) {', '.join(unvalidated)}: records are not validated before sending (AEP "
            "drops schema-invalid records asynchronously, after accepting them); set schema: from-dataset to validate"
        )
    return found.problems, found.unavailable, notes


def main(args: argparse.Namespace) -> int:
    from connector.ops.routing_table import format_routing

    settings, compiled, problems = compile_config(args.config)
    unreachable: list[str] = []
    notes: list[str] = []
    if not problems:
        schema_problems, unreachable, notes = schema_findings(settings, compiled, args.connect)
        problems += schema_problems
    if problems:
        print(f"{args.config}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        return 2
    print(f"{args.config}: OK")
    for note in notes:
        print(f"note: {note}")
    print()
    print(format_routing(compiled, settings))
    if not args.connect:
        return 0
    code = _connect(settings, compiled)
    for u in unreachable:
        print(f"unreachable: {u}", file=sys.stderr)
    return max(code, 4) if unreachable else code


def _connect(settings: Any, compiled: list[Any]) -> int:
    from connector.observability.logging import configure_logging, register_settings_secrets
    from connector.ops.checks import exit_code, format_findings
    from connector.ops.checks.aep import check_aep
    from connector.ops.checks.kafka import KafkaChecks

    register_settings_secrets(settings)
    configure_logging("console", "error")  # the findings say what failed; librdkafka's details only on error
    kafka = KafkaChecks(settings)
    findings = kafka.run()
    findings += check_aep(settings, compiled, sorted(kafka.topics))
    print()
    print(format_findings(findings))
    code = exit_code(findings)
    verdict = {0: "all reachable", 2: "configuration problems (exit 2)", 4: "unreachable services (exit 4)"}[code]
    print(f"\n{verdict}")
    return code
