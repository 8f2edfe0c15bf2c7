"""`aep-connector preview -c FILE --mapping NAME [--input FILE|-] [--limit N]`: map sample records offline.

Reads JSON lines (or one JSON array) of decoded record values, prints each DCS envelope as
pretty JSON on stdout, and each record's mapping error (reason, target path, expression) or XDM
schema violation on stderr. A mapping with `schema:` is validated exactly as the worker validates
(the schema from AEP, the disk cache or the file; whatever its `validate:` mode). Exit 0 when
every record mapped (and validated), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import IO, Any

import orjson

from connector.commands._common import add_config_arg
from connector.config import Settings, load_settings
from connector.errors import ConfigError, FatalError, MappingError
from connector.mapping import CompiledMapping, compile_mappings
from connector.records import SourceRecord
from connector.xdm.validator import XdmValidator

NAME = "preview"
HELP = "map sample records (JSON lines or a JSON array) with one mapping and print the envelopes or errors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument("--mapping", required=True, metavar="NAME", help="name of the mapping to use")
    parser.add_argument(
        "--input", default="-", metavar="FILE", help="JSON lines or a JSON array of record values ('-' = stdin)"
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="map at most N records")


def read_values(stream: IO[str]) -> Iterator[tuple[int, bytes, Any, str | None]]:
    """(index, raw bytes, decoded value or None, decode error or None) per input record."""
    text = stream.read()
    if text.lstrip().startswith("["):
        try:
            values = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield 0, text.encode(), None, f"input is not a valid JSON array: {exc}"
            return
        for i, value in enumerate(values):
            yield i, orjson.dumps(value), value, None
        return
    index = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        raw = line.encode()
        try:
            yield index, raw, orjson.loads(raw), None
        except orjson.JSONDecodeError as exc:
            yield index, raw, None, f"invalid JSON: {exc}"
        index += 1


def schema_validator(settings: Settings, mapping: CompiledMapping) -> XdmValidator | None:
    """The validator the worker would use for `mapping` (None without `schema:`); says on stderr where from."""
    from connector.clock import SystemClock
    from connector.xdm.service import load_schemas

    ref = mapping.parsed.schema
    if ref is None:
        return None
    service, found = load_schemas(settings, [mapping.parsed], clock=SystemClock(), wait=False)
    if found.problems:
        raise ConfigError(found.problems)
    if found.unavailable:
        raise FatalError("\n".join(found.unavailable))
    for note in found.notes:
        print(f"note: {note}", file=sys.stderr)
    live = service.schemas.get(ref)
    loaded = live.current if live else None
    if loaded is None:
        return None
    print(f"validating against {loaded.schema_id} version {loaded.version} ({loaded.origin})", file=sys.stderr)
    return loaded.validator


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    compiled, problems = compile_mappings(settings.mappings, settings.aep)
    if problems:
        raise ConfigError(problems)
    by_name = {m.name: m for m in compiled}
    mapping = by_name.get(args.mapping)
    if mapping is None:
        raise ConfigError([f"--mapping: no mapping named {args.mapping!r} (mappings: {', '.join(sorted(by_name))})"])
    validator = schema_validator(settings, mapping)
    topic = next((t for t in mapping.topics if not t.startswith("^")), "preview")
    stream: IO[str] = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")  # noqa: SIM115
    ok = failed = 0
    try:
        for i, raw, value, decode_error in read_values(stream):
            if args.limit is not None and i >= args.limit:
                break
            if decode_error is not None:
                print(f"record {i}: ERROR decode: {decode_error}", file=sys.stderr)
                failed += 1
                continue
            try:
                envelope = mapping.map(SourceRecord(topic, 0, i, None, raw), value)
            except MappingError as exc:
                print(f"record {i}: ERROR {exc.reason}: {exc.message}", file=sys.stderr)
                failed += 1
                continue
            entity = envelope["body"]["xdmEntity"]
            violations = validator.violations(entity) if validator and not validator.is_valid(entity) else []
            print(orjson.dumps(envelope, option=orjson.OPT_INDENT_2).decode())
            for v in violations:
                print(f"record {i}: ERROR xdm-invalid: {v}", file=sys.stderr)
            if violations:
                failed += 1
            else:
                ok += 1
    finally:
        if stream is not sys.stdin:
            stream.close()
    print(f"{mapping.name}: {ok} mapped, {failed} failed", file=sys.stderr)
    return 0 if failed == 0 else 1
