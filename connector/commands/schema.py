"""`aep-connector schema pull -c FILE [--mapping NAME] [--out DIR]`: export mappings' XDM schemas for offline use.

Each mapping's schema (its `schema:` $id, its dataset's schema for `from-dataset`, else its
`schema_id`) is fetched from AEP's Schema Registry in the resolved form
(`application/vnd.adobe.xed-full+json;version=1`) and written as returned. Where the mapping's
`schema:` already names a file, that file is written (unless --out is given); otherwise
`<out>/<mapping>.xdm.json` (default out: ./schemas). A mapping then validates offline with
`schema: <that file>`. Exit 0 when every schema was written, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connector.commands._common import add_config_arg

NAME = "schema"
HELP = "XDM schemas of the mappings: `schema pull` writes them (resolved, from AEP) for offline validation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    pull = sub.add_parser("pull", help="fetch each mapping's resolved schema from AEP and write it to a file")
    add_config_arg(pull)
    pull.add_argument("--mapping", action="append", metavar="NAME", help="only this mapping (repeatable)")
    pull.add_argument("--out", type=Path, default=None, metavar="DIR", help="write <DIR>/<mapping>.xdm.json")


def main(args: argparse.Namespace) -> int:
    import orjson

    from connector.config import load_settings
    from connector.errors import ConfigError, FatalError, RetriableError
    from connector.mapping.spec import parse_spec
    from connector.xdm.prepare import UnusableSchema, prepare
    from connector.xdm.service import platform_source

    settings = load_settings(args.config)
    specs = [parse_spec(source)[0] for source in settings.mappings]
    if args.mapping:
        unknown = sorted(set(args.mapping) - {s.name for s in specs})
        if unknown:
            names = ", ".join(sorted(s.name for s in specs))
            raise ConfigError([f"--mapping: no mapping named {n!r} (mappings: {names})" for n in unknown])
        specs = [s for s in specs if s.name in args.mapping]
    source = platform_source(settings)
    failed = 0
    for spec in specs:
        ref = spec.schema
        try:
            if ref is not None and ref.kind == "dataset":
                schema_id = source.dataset_schema_id(ref.value)
            else:
                schema_id = ref.value if ref is not None and ref.kind == "id" else spec.schema_id
            doc = source.schema(schema_id)
            prepared = prepare(doc, schema_id)
        except (FatalError, RetriableError, UnusableSchema) as exc:
            print(f"mapping {spec.name}: ERROR {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.out is None and ref is not None and ref.kind == "file":
            target = Path(ref.value)
        else:
            target = (args.out or Path("schemas")) / f"{spec.name}.xdm.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"mapping {spec.name}: wrote {target} ({prepared.schema_id} version {prepared.version})")
        if ref is None or ref.kind != "file" or Path(ref.value) != target.resolve():
            print(f"  validate offline with: schema: {target.resolve()}", file=sys.stderr)
    return 1 if failed else 0
