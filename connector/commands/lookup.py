"""`aep-connector lookup -c FILE --namespace NS --id ID [--events] [--json]`: a profile from AEP."""

from __future__ import annotations

import argparse
import json
import sys

from connector.commands._common import add_config_arg

NAME = "lookup"
HELP = "print the merged Real-Time Customer Profile of an identity (and its ExperienceEvents)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument("--namespace", required=True, help="identity namespace code, e.g. email, ECID, CRMID")
    parser.add_argument("--id", required=True, dest="identity", help="the identity value")
    parser.add_argument("--events", action="store_true", help="also list the profile's ExperienceEvents")
    parser.add_argument("--json", action="store_true", help="print the API documents as JSON")
    parser.add_argument("--sandbox", help="the sandbox to read (default: aep.sandbox, else prod)")


def main(args: argparse.Namespace) -> int:
    from connector.config import load_settings
    from connector.errors import RetriableError
    from connector.observability.logging import configure_logging
    from connector.ops.platform import PlatformClient
    from connector.ops.profile_lookup import lookup, render

    settings = load_settings(args.config)
    configure_logging(settings.observability.log_format, "warning")
    client = PlatformClient(settings.aep, sandbox=getattr(args, "sandbox", None))
    try:
        result = lookup(client, args.namespace, args.identity, events=args.events)
    except RetriableError as exc:
        print(f"error (try again): {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        print(render(result))
    return 0 if result.profile is not None or result.events else 1
