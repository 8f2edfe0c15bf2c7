"""`aep-connector failures -c FILE [--since 24h] [--dataset D] [--json] [--dead-letter]`.

Lists the records AEP accepted and then failed in streaming validation (failed batches of the
configured datasets, with AEP's errors) and, with `--dead-letter`, writes them to the dead-letter
topic so `dlq replay` can re-publish them once the cause is fixed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.commands._common import add_config_arg

if TYPE_CHECKING:
    from connector.config import Settings
    from connector.ops.failed_dead_letters import DeadLetterReport
    from connector.ops.failures import FailedRecord, FailuresReport

NAME = "failures"
HELP = "list records AEP accepted and then failed (failed streaming batches); --dead-letter writes them to the DLQ"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arg(parser)
    parser.add_argument(
        "--since", default="24h", metavar="T", help="batches created since T (30m, 2h, 1d, ISO 8601; default 24h)"
    )
    parser.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="D",
        help="only this dataset id (repeatable; default: the datasets of the config's mappings and dataflows)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--origin-scan",
        type=int,
        default=None,
        metavar="N",
        help="Edge events carry no Kafka origin: hash at most N offsets of the mappings' topics to find it from "
        "the event's default _id (default 5,000,000; 0: do not search)",
    )
    parser.add_argument(
        "--dead-letter",
        action="store_true",
        help="write the failed records to the dead-letter topic (reason aep-async-invalid); records already "
        "there are not written again",
    )


def _iso(ms: Any) -> str:
    if not isinstance(ms, int | float):
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _record_json(rec: FailedRecord) -> dict[str, Any]:
    origin = rec.origin
    return {
        "file": rec.file,
        "line": rec.line,
        "origin": None if origin is None else {"topic": origin[0], "partition": origin[1], "offset": origin[2]},
        "errors": list(rec.errors),
        "entity": rec.entity,
    }


def _as_json(report: FailuresReport, dead: DeadLetterReport | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "since": _iso(report.since_ms),
        "datasets": report.datasets,
        "open_batches": report.open_batches,
        "failed_records": len(report.records),
        "batches": [
            {
                "id": b.id,
                "dataset": b.dataset_id,
                "status": b.status,
                "created": _iso(b.created_ms),
                "completed": _iso(b.completed_ms),
                "records": b.record_count,
                "failed": b.failed_count,
                "failedRecords": [_record_json(r) for r in b.records],
            }
            for b in report.batches
        ],
        "notes": report.notes,
    }
    if dead is not None:
        doc["dead_letter"] = {
            "topic": dead.topic,
            "written_kafka_records": dead.original,
            "written_xdm_messages": dead.message,
            "already_dead_lettered": dead.already,
            "unrecoverable": dead.unrecoverable,
        }
    return doc


def render(report: FailuresReport) -> str:
    lines = [f"failed streaming batches since {_iso(report.since_ms)} in {len(report.datasets)} dataset(s):"]
    for ds, names in report.datasets.items():
        lines.append(f"  dataset {ds} (mappings: {', '.join(names) or '-'})")
    for b in report.batches:
        mappings = ", ".join(report.datasets.get(b.dataset_id, [])) or "-"
        total = "?" if b.record_count is None else b.record_count
        failed = "?" if b.failed_count is None else b.failed_count
        lines.append(
            f"batch {b.id} dataset {b.dataset_id} ({mappings}): {b.status}, {total} records, {failed} failed, "
            f"completed {_iso(b.completed_ms)}"
        )
        for rec in b.records:
            origin = rec.origin
            where = f"{origin[0]}/{origin[1]}/{origin[2]}" if origin else f"{rec.file}#{rec.line}"
            lines.append(f"  {where}  {rec.describe()}")
    n, nb = len(report.records), len(report.batches)
    lines.append(f"{n} failed record(s) in {nb} batch(es); {report.open_batches} batch(es) still open")
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def _render_dead(dead: DeadLetterReport) -> str:
    text = (
        f"{dead.topic}: dead-lettered {dead.original + dead.message} ({dead.original} Kafka records, "
        f"{dead.message} XDM messages whose Kafka record is gone), {dead.already} already there"
    )
    if dead.unrecoverable:
        text += f"; {len(dead.unrecoverable)} not written (the failed file holds only AEP's errors)"
    return text


def main(args: argparse.Namespace) -> int:
    from connector.config import load_settings
    from connector.errors import RetriableError
    from connector.observability.logging import configure_logging
    from connector.ops.dlq import parse_since
    from connector.ops.event_origins import DEFAULT_LIMIT, attach_origins
    from connector.ops.failures import collect, configured_datasets
    from connector.ops.platform import PlatformClient

    settings = load_settings(args.config)
    configure_logging(settings.observability.log_format, "warning")
    since_ms = parse_since(args.since) if args.since else None
    client = PlatformClient(settings.aep)
    dead = None
    try:
        datasets, notes = configured_datasets(settings, client)
        if args.dataset:
            datasets = {d: datasets.get(d, []) for d in args.dataset}
        report = collect(client, datasets, since_ms, notes)
        attach_origins(report, settings, DEFAULT_LIMIT if args.origin_scan is None else args.origin_scan)
        if args.dead_letter:
            dead = _dead_letter(settings, report)
    except RetriableError as exc:
        print(f"error (run again): {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_as_json(report, dead), indent=2, ensure_ascii=False))
    else:
        print(render(report))
        if dead is not None:
            print(_render_dead(dead))
    return 0


def _dead_letter(settings: Settings, report: FailuresReport) -> DeadLetterReport:
    from connector.kafka.admin import ensure_dead_letter_topic
    from connector.ops.failed_dead_letters import dead_letter
    from connector.ops.failures import mapping_finder

    ensure_dead_letter_topic(settings.kafka, settings.dead_letter)
    return dead_letter(
        report.records,
        settings.kafka,
        settings.dead_letter.topic,
        mapping_of=mapping_finder(settings, report),
        since_ms=report.since_ms,
    )
