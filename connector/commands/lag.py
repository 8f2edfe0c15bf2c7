"""`aep-connector lag -c FILE [--group G] [--watch [SECONDS]] [--json]`: consumer lag per partition."""

from __future__ import annotations

import argparse
import json
import sys
import time

from connector.commands._common import add_config_arg

NAME = "lag"
HELP = "show the consumer group's committed offset, end offset and lag per topic partition"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument("--group", help="any consumer group (default: the config's kafka.group_id)")
    parser.add_argument(
        "--watch", nargs="?", type=float, const=5.0, default=None, metavar="SECONDS", help="refresh until Ctrl-C"
    )
    parser.add_argument("--json", action="store_true", help="print JSON (one document per refresh)")


def main(args: argparse.Namespace) -> int:
    from connector.config import load_settings
    from connector.errors import RetriableError
    from connector.ops.lag import LagReader, as_json, format_table

    settings = load_settings(args.config)
    group = args.group or settings.kafka.group_id
    topics = settings.kafka.topics if group == settings.kafka.group_id else ()
    reader = LagReader.for_kafka(settings.kafka)
    try:
        while True:
            try:
                rows = reader.rows(group, topics)
            except RetriableError as exc:
                print(f"error: {exc}", file=sys.stderr)
                if args.watch is None:
                    return 1
            else:
                if args.json:
                    print(json.dumps(as_json(group, rows, reader.missing)), flush=True)
                else:
                    stamp = time.strftime("%Y-%m-%d %H:%M:%S") + "\n" if args.watch is not None else ""
                    table = format_table(group, rows, reader.missing)
                    print(stamp + table + ("\n" if args.watch is not None else ""), flush=True)
            if args.watch is None:
                return 0
            time.sleep(max(0.5, args.watch))
    except KeyboardInterrupt:
        return 0
