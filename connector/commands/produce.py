"""`aep-connector produce [-c FILE] --topic T --input F.jsonl|- | --sample NAME`: feed a topic.

Values are encoded the way the topic's mapping reads them (JSON, Avro through the registry, plain
Avro; see connector.ops.produce), keys come from `--key-field` (a sample's own key field by
default). A topic that does not exist is an error unless `--create [--partitions N]` (the
connector never relies on broker-side auto-creation). Every record is acknowledged with acks=all
before the command exits. Exit 0: all written; 1: some records could not be encoded or written
(each named on stderr); 2: configuration or usage; 4: Kafka or the registry unreachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from connector.commands._common import EXIT_UNREACHABLE, add_config_arg

NAME = "produce"
HELP = "produce JSON lines (or a bundled sample) to a topic, encoded as the topic's mapping reads it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from connector.ops.samples import SAMPLES

    add_config_arg(parser)
    parser.add_argument("--topic", metavar="T", help="topic to write (default with --sample: the sample's name)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE", help="JSON lines or a JSON array of record values ('-' = stdin)")
    source.add_argument("--sample", choices=sorted(SAMPLES), help="a bundled sample data set")
    parser.add_argument("--key-field", metavar="PATH", help="value field used as the key, e.g. customer.id")
    parser.add_argument("--create", action="store_true", help="create the topic when it does not exist")
    parser.add_argument("--partitions", type=int, default=3, metavar="N", help="partitions for --create (default 3)")
    parser.add_argument("--schema", type=Path, metavar="FILE.avsc", help="Avro writer schema (avro: registered)")


def _records(args: argparse.Namespace) -> tuple[Iterator[tuple[int, bytes | None, Any, str | None]], str | None, Any]:
    """(index, raw bytes, value, error) records, the key field, and the stream to close (or None)."""
    from connector.ops.records_input import read_values
    from connector.ops.samples import SAMPLES

    if args.sample:
        sample = SAMPLES[args.sample]
        values = ((i, None, v, None) for i, v in enumerate(sample.values()))
        return values, args.key_field or sample.key_field, None
    stream: IO[str] = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")  # noqa: SIM115
    raw_values: Iterator[tuple[int, bytes | None, Any, str | None]] = read_values(stream)
    return raw_values, args.key_field, None if stream is sys.stdin else stream


def _target(args: argparse.Namespace) -> tuple[str, Any, Any, str, Any, int]:
    """(topic, mapping, encoder, encoding, writer, partitions): everything checked before a record is read.

    Raises ConfigError (usage, missing topic, no schema) and RetriableError (Kafka or registry unreachable).
    """
    from connector.config import load_settings
    from connector.errors import ConfigError
    from connector.mapping import compile_mappings
    from connector.ops.produce import TopicWriter, mapping_for, read_schema, value_encoder
    from connector.ops.samples import SAMPLES

    settings = load_settings(args.config)
    topic = args.topic or args.sample
    if not topic:
        raise ConfigError(["--topic is required with --input"])
    if args.partitions < 1:
        raise ConfigError(["--partitions must be >= 1"])
    compiled, problems = compile_mappings(settings.mappings, settings.aep)
    if problems:
        raise ConfigError(problems)
    mapping = mapping_for(topic, compiled)
    schema = (read_schema(args.schema), str(args.schema)) if args.schema else None
    sample_schema = SAMPLES[args.sample].schema_text() if args.sample else None
    if schema is None and sample_schema is not None:
        schema = (sample_schema, f"the {args.sample} sample schema")
    encode, encoding = value_encoder(topic, mapping, settings, schema)
    writer = TopicWriter(settings)
    partitions = writer.partitions(topic)
    if partitions is None and not args.create:
        raise ConfigError(
            [f"topic {topic!r} does not exist on {writer.bootstrap}: create it (add --create [--partitions N]) "
             "or check --topic"]
        )  # fmt: skip
    if partitions is None:
        writer.create(topic, args.partitions)
        partitions = args.partitions
        print(f"created topic {topic} with {partitions} partition(s)", file=sys.stderr)
    if mapping is None:
        print(f"note: no mapping reads topic {topic}; values are written as JSON", file=sys.stderr)
    return topic, mapping, encode, encoding, writer, partitions


def main(args: argparse.Namespace) -> int:
    from connector.errors import RetriableError
    from connector.observability.logging import configure_logging
    from connector.ops.produce import key_bytes

    configure_logging("console", "warning")  # librdkafka's complaints as events on stderr

    try:
        topic, mapping, encode, encoding, writer, partitions = _target(args)
    except RetriableError as exc:
        print(f"unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    key_format = getattr(mapping, "key_format", "string")
    records, key_field, stream = _records(args)
    failed = 0

    def encoded() -> Iterator[tuple[int, bytes | None, bytes]]:
        nonlocal failed
        for index, raw, value, error in records:
            try:
                if error is not None:
                    raise ValueError(error)
                yield index, key_bytes(value, key_field, key_format), encode(value, raw)
            except (ValueError, TypeError) as exc:  # AvroEncodeError is a ValueError
                print(f"record {index}: ERROR {exc}", file=sys.stderr)
                failed += 1

    try:
        report = writer.send(topic, encoded())
    finally:
        if stream is not None:
            stream.close()
    for index, problem in report.failures:
        print(f"record {index}: ERROR {problem}" if index >= 0 else f"ERROR {problem}", file=sys.stderr)
    failed += len(report.failures)
    print(
        f"produced {report.delivered} record(s) to {topic} ({partitions} partition(s)) at {writer.bootstrap} "
        f"as {encoding}" + (f"; {failed} failed" if failed else "")
    )
    return 0 if failed == 0 else 1
