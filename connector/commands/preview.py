"""`aep-connector preview`: map records the way `run` would and print the envelopes or the errors.

    preview [-c FILE] --mapping NAME [--input FILE|-] [--limit N]     decoded values, offline
    preview [-c FILE] --from-topic T [--limit N] [--start earliest|latest|committed]

Offline, it reads JSON lines (or one JSON array) of decoded record values. With --from-topic it
reads up to N records (default 10) from Kafka without committing and without joining the
worker's group (connector.ops.topic_reader), decodes them with the topic's mapping format (JSON,
Avro through the registry, plain Avro) and maps them. Each DCS envelope (or, for
`destination: edge`, each Edge Network event `{"xdm": ...}`) goes to stdout as pretty JSON; each
record's decode or mapping error (reason, target path, expression), an envelope over DCS's 1 MB
limit, or an XDM schema violation goes to stderr. A mapping with `schema:` is validated exactly
as the worker validates (the schema from AEP, the disk cache or the file; whatever its
`validate:` mode). Exit 0 when every record mapped (and validated), 1 otherwise, 4 when Kafka,
the registry or AEP's Schema Registry cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from connector.commands._common import EXIT_UNREACHABLE, add_config_arg
from connector.config import Settings, load_settings
from connector.errors import ConfigError, FatalError, RecordError, RetriableError
from connector.mapping import CompiledMapping, compile_mappings
from connector.mapping.envelope import encode as encode_envelope
from connector.ops.records_input import read_values
from connector.quoting import quote, shorten
from connector.records import SourceRecord
from connector.xdm.validator import XdmValidator

NAME = "preview"
HELP = "map records (a file of values, or read from a topic) with their mapping and print the envelopes or errors"
DEFAULT_TOPIC_LIMIT = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument("--mapping", metavar="NAME", help="name of the mapping to use (offline input)")
    parser.add_argument(
        "--input", default="-", metavar="FILE", help="JSON lines or a JSON array of record values ('-' = stdin)"
    )
    parser.add_argument("--from-topic", metavar="T", help="read records from this Kafka topic instead of --input")
    parser.add_argument(
        "--start",
        choices=("earliest", "latest", "committed"),
        default="earliest",
        help="--from-topic: the first records, the newest, or the next ones the worker group will read",
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="map at most N records")


def show(mapping: Any, label: str, record: SourceRecord, value: Any, validator: XdmValidator | None = None) -> bool:
    """Print the envelope (stdout) or why `run` would dead-letter the record (stderr); True when it maps.

    The record goes through `map_envelope`, the worker's map-and-encode step with the envelope kept
    (mapping errors, the 1 MB too-large rule; its bytes are what run's `map_record` sends), so preview
    passes exactly what run sends; the XDM schema check
    (with `schema:`, the validator the worker uses) comes on top. Quoted values in messages are shortened.
    """
    from connector.worker import map_envelope

    try:
        envelope, _ = map_envelope(mapping, record, value)
    except RecordError as exc:
        print(f"{label}: ERROR {exc.reason}: {shorten(exc.message, 1000)}", file=sys.stderr)
        return False
    print(encode_envelope(envelope, indent=True).decode())
    entity = envelope["xdm"] if "xdm" in envelope else envelope["body"]["xdmEntity"]
    violations = validator.violations(entity) if validator and not validator.is_valid(entity) else []
    for v in violations:
        print(f"{label}: ERROR xdm-invalid: {v}", file=sys.stderr)
    return not violations


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


def _offline(args: argparse.Namespace, settings: Settings, compiled: list[Any]) -> tuple[str, int, int]:
    by_name = {m.name: m for m in compiled}
    if not args.mapping:
        raise ConfigError(["preview needs --mapping NAME (with --input) or --from-topic T"])
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
            elif show(mapping, f"record {i}", SourceRecord(topic, 0, i, None, raw), value, validator):
                ok += 1
            else:
                failed += 1
    finally:
        if stream is not sys.stdin:
            stream.close()
    return mapping.name, ok, failed


def _from_topic(args: argparse.Namespace, settings: Settings, compiled: list[Any]) -> tuple[str, int, int]:
    from connector.observability.logging import configure_logging
    from connector.ops.produce import mapping_for
    from connector.ops.topic_reader import TopicReader
    from connector.serde.factory import build_deserializers

    configure_logging("console", "warning")  # librdkafka's complaints as events on stderr
    topic = args.from_topic
    mapping = mapping_for(topic, compiled)
    if mapping is None:
        raise ConfigError([f"--from-topic: no mapping reads topic {topic!r}"])
    decoders, problems = build_deserializers([mapping], settings)
    if problems:
        raise ConfigError(problems)
    validator = schema_validator(settings, mapping)
    reader = TopicReader(settings.kafka)
    try:
        records = reader.read(topic, args.limit or DEFAULT_TOPIC_LIMIT, args.start)
    finally:
        reader.close()
    if not records:
        print(f"{topic}: no records to read from the {args.start} position", file=sys.stderr)
    ok = failed = 0
    for record in records:
        label = f"{record.topic}[{record.partition}]@{record.offset}"
        try:
            value = decoders[mapping.name](record)
        except RecordError as exc:
            print(f"{label}: ERROR {exc.reason}: {shorten(exc.message, 1000)}", file=sys.stderr)
            failed += 1
            continue
        print(f"# {label} key={quote(record.key)}", file=sys.stderr)
        if show(mapping, label, record, value, validator):
            ok += 1
        else:
            failed += 1
    return mapping.name, ok, failed


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    compiled, problems = compile_mappings(settings.mappings, settings.aep)
    if problems:
        raise ConfigError(problems)
    try:
        if args.from_topic:
            name, ok, failed = _from_topic(args, settings, compiled)
        else:
            name, ok, failed = _offline(args, settings, compiled)
    except RetriableError as exc:
        print(f"unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"{name}: {ok} mapped, {failed} failed", file=sys.stderr)
    return 0 if failed == 0 else 1
