"""`aep-connector import-dataprep --input SET.json --name NAME ...`: an AEP Data Prep mapping set as mapping YAML."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connector.errors import ConfigError
from connector.mapping.dataprep import convert_mapping_set

NAME = "import-dataprep"
HELP = "convert an AEP Data Prep mapping set (JSON) into this connector's mapping YAML, listing what needs a TODO"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, metavar="FILE", help="mapping set JSON (as GET /mappingSets/{id})")
    parser.add_argument("--name", required=True, help="name of the new mapping")
    parser.add_argument("--schema-id", required=True, help="the target XDM schema $id")
    parser.add_argument("--dataset-id", required=True, help="the target dataset id")
    parser.add_argument("--xdm-class", choices=("experienceevent", "profile"), default="experienceevent")
    parser.add_argument("--topic", action="append", default=[], help="Kafka topic or ^regex (repeatable)")
    parser.add_argument("--out", metavar="FILE", help="write the YAML here instead of stdout")


def main(args: argparse.Namespace) -> int:
    try:
        mapping_set = json.loads(Path(args.input).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError([f"--input: cannot read a mapping set from {args.input}: {exc}"]) from None
    if not isinstance(mapping_set, dict):
        raise ConfigError([f"--input: {args.input} must hold a JSON object with a mappings list"])
    text, todos = convert_mapping_set(
        mapping_set,
        name=args.name,
        schema_id=args.schema_id,
        dataset_id=args.dataset_id,
        xdm_class=args.xdm_class,
        topics=args.topic,
        origin=f"mapping set {Path(args.input).name}",
    )
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for todo in todos:
        print(f"TODO: {todo}", file=sys.stderr)
    return 0
