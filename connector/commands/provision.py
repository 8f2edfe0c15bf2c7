"""`aep-connector provision -c FILE --name NAME --dataset-id ID --schema-id ID`: the Flow Service setup."""

from __future__ import annotations

import argparse
import sys

from connector.commands._common import add_config_arg

NAME = "provision"
HELP = (
    "create (or reuse, by name) the streaming connection, source, data lake target and dataflow in AEP; "
    "--datastreams: what edge mappings need (datastreams are configured in the Data Collection UI)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument("--name", help="name of the streaming connection (resources derive from it); required")
    parser.add_argument("--dataset-id", help="the target dataset (Catalog id); required")
    parser.add_argument("--schema-id", help="the dataset's XDM schema $id; required")
    parser.add_argument(
        "--datastreams",
        action="store_true",
        help="create nothing: print the Edge Network datastreams the config's edge mappings use and what to "
        "configure for each in the Data Collection UI (no API creates datastreams)",
    )
    parser.add_argument(
        "--sandbox",
        help="the sandbox to create the resources in (default: the `sandbox` of the mappings writing --dataset-id, "
        "else aep.sandbox, else prod)",
    )
    parser.add_argument("--authenticated", action="store_true", help="require IMS tokens on the inlet")
    parser.add_argument("--data-type", choices=("xdm", "raw"), default="xdm")
    parser.add_argument("--mapping-id", help="raw data only: the Data Prep mapping set for the dataflow")
    parser.add_argument("--write", action="store_true", help="write aep.inlet_url and aep.flow_id into the config")


def main(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from connector.config import load_settings
    from connector.errors import ConfigError, FatalError, RetriableError
    from connector.mapping import compile_mappings
    from connector.observability.logging import configure_logging
    from connector.ops import datastreams
    from connector.ops.config_edit import update_config_text
    from connector.ops.platform import PlatformClient
    from connector.ops.provision import Provisioner, ProvisionRequest, config_snippet, dataset_sandbox

    settings = load_settings(args.config)
    configure_logging(settings.observability.log_format, "warning")
    if getattr(args, "datastreams", False):  # callers may build the Namespace without it
        compiled, problems = compile_mappings(settings.mappings, settings.aep)
        if problems:
            raise ConfigError(problems)
        print(datastreams.describe(settings, compiled) or "no mapping has destination: edge\n", end="")
        return 0
    missing = [f"--{k.replace('_', '-')}" for k in ("name", "dataset_id", "schema_id") if not getattr(args, k)]
    if missing:
        raise ConfigError([f"{flag}: is required (or pass --datastreams)" for flag in missing])
    if any(m.spec.get("destination") == "edge" for m in settings.mappings):
        print(
            "note: mappings with destination: edge need datastreams, which provision cannot create "
            "(see provision --datastreams)",
            file=sys.stderr,
        )
    request = ProvisionRequest(
        name=args.name,
        dataset_id=args.dataset_id,
        schema_id=args.schema_id,
        authenticated=args.authenticated,
        data_type=args.data_type,
        mapping_id=args.mapping_id,
    )
    sandbox = getattr(args, "sandbox", None) or dataset_sandbox(settings.mappings, args.dataset_id)
    client = PlatformClient(settings.aep, sandbox=sandbox)
    print(f"sandbox: {client.sandbox}", file=sys.stderr)
    try:
        result = Provisioner(client).run(request)
    except RetriableError as exc:
        print(f"error (try again): {exc}", file=sys.stderr)
        return 1
    created = ", ".join(result.created) or "nothing"
    reused = ", ".join(result.reused) or "nothing"
    print(f"created: {created}; reused: {reused}", file=sys.stderr)
    if args.write:
        path = Path(args.config)
        try:
            update = update_config_text(path.read_text(encoding="utf-8"), result.inlet_url, result.flow_id, os.environ)
        except FatalError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print(config_snippet(result), end="")
            return 2
        path.write_text(update.text, encoding="utf-8")
        print(f"{path}: aep.inlet_url and aep.flow_id updated", file=sys.stderr)
        for note in update.notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        print(config_snippet(result), end="")
    if args.authenticated and not settings.aep.auth.enabled:
        print("note: the inlet requires tokens: set aep.auth.enabled: true", file=sys.stderr)
    return 0
