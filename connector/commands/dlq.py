"""`aep-connector dlq inspect|replay -c FILE`: what is in the dead-letter topic, and re-publishing it."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from connector.commands._common import add_config_arg

NAME = "dlq"
HELP = "inspect the dead-letter topic (counts by reason, samples) or replay it to the original topics"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    inspect = sub.add_parser("inspect", help="counts by reason and source topic, with a few samples")
    replay = sub.add_parser("replay", help="re-publish dead letters (without error headers), resumably")
    for p in (inspect, replay):
        add_config_arg(p)
        p.add_argument("--topic", help="dead-letter topic (default: the config's dead_letter.topic)")
        p.add_argument("--reason", help="only records with this __aep.errors.reason")
        p.add_argument("--since", metavar="T", help="only records dead-lettered since T (30m, 2h, 1d, ISO 8601)")
    inspect.add_argument("--limit", type=int, default=3, metavar="N", help="samples to show (default 3)")
    inspect.add_argument("--json", action="store_true")
    replay.add_argument("--to", default="original", metavar="original|TOPIC", help="target topic (default: original)")
    replay.add_argument(
        "--dry-run", action="store_true", help="count what would be replayed; produce and commit nothing"
    )
    replay.add_argument("--replay-group", help="consumer group tracking progress (default: <group>.dlq-replay)")
    replay.add_argument("--chunk-size", type=int, default=500, help="records produced and acknowledged per commit")
    replay.add_argument(
        "--max-replays",
        type=int,
        default=1,
        metavar="N",
        help="pass over dead letters already replayed N times that failed again (default 1: no second round)",
    )
    replay.add_argument("--force", action="store_true", help="replay whatever the replay lineage says")


def _ms(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _sample(dl: Any, view: Any) -> dict[str, Any]:
    from connector.ops.dlq_render import header

    return {
        "partition": dl.partition,
        "offset": dl.offset,
        "failed_at": _ms(dl.failed_at_ms),
        "key": view.key(dl),
        "headers": [(k, header(v)) for k, v in dl.headers],
        "value": view.value(dl),
    }


def _print_sample(topic: str, s: dict[str, Any]) -> None:
    from connector.ops.dlq_render import terminal_safe

    print(f"sample {topic}[{s['partition']}]@{s['offset']} failed at {s['failed_at']}")
    for k, v in s["headers"]:
        print(f"    {terminal_safe(k)}: {v.text}" + (f"  ({v.label()})" if v.encoding == "binary" else ""))
    for what in ("key", "value"):
        shown = s[what]
        print(f"    {what} ({shown.label()}): {shown.text}")
        if shown.note:
            print(f"      note: {terminal_safe(shown.note)}")


def _inspect(args: argparse.Namespace, settings: Any, since_ms: int | None) -> int:
    from connector.ops.dlq import inspect
    from connector.ops.dlq_render import DeadLetterView, terminal_safe, to_json

    topic = args.topic or settings.dead_letter.topic
    report = inspect(settings.kafka, topic, reason=args.reason, since_ms=since_ms, limit=args.limit)
    view = DeadLetterView(settings)
    samples = [_sample(s, view) for s in report.samples]
    doc = {
        "topic": topic,
        "records": report.total,
        "matched": report.matched,
        "by_reason": dict(report.by_reason.most_common()),
        "by_source_topic": dict(report.by_topic.most_common()),
        "by_stage": dict(report.by_stage.most_common()),
        "by_replay_count": {str(k): n for k, n in sorted(report.by_replay_count.items())},
        "samples": [
            {**s, "key": s["key"].as_json(), "value": s["value"].as_json(),
             "headers": {k: v.data if v.encoding in ("text", "null") else v.as_json() for k, v in s["headers"]}}
            for s in samples
        ],
    }  # fmt: skip
    if args.json:
        print(to_json(doc, indent=True))
        return 0
    print(f"{topic}: {report.total} dead letters, {report.matched} matching")
    for title, counts in (("by reason", report.by_reason), ("by source topic", report.by_topic)):
        print(f"{title}:")
        width = max((len(k) for k in counts), default=0)
        for key, n in counts.most_common():
            print(f"  {terminal_safe(key).ljust(width)}  {n}")
    replayed = {k: n for k, n in report.by_replay_count.items() if k}
    if replayed:
        print("replayed before, and failed again (header __aep.replay.count):")
        for count, n in sorted(replayed.items()):
            print(f"  {count} time(s)  {n}")
    for s in samples:
        _print_sample(topic, s)
    return 0


def _replay(args: argparse.Namespace, settings: Any, since_ms: int | None) -> int:
    from connector.ops.dlq import Replayer, ReplayOptions

    topic = args.topic or settings.dead_letter.topic
    group = args.replay_group or f"{settings.kafka.group_id}.dlq-replay"
    options = ReplayOptions(
        reason=args.reason,
        since_ms=since_ms,
        to=args.to,
        dry_run=args.dry_run,
        chunk_size=max(1, args.chunk_size),
        max_replays=None if args.force else max(1, args.max_replays),
    )
    report = Replayer(settings.kafka, topic, group, options).run()
    verb = "would replay" if args.dry_run else "replayed"
    print(
        f"{topic}: {verb} {report.replayed}, skipped {report.skipped} "
        f"(no origin topic: {report.no_origin}, already replayed: {report.already_replayed})"
    )
    if report.already_replayed:
        how = "--force" if args.dry_run else "--force and a new --replay-group (this group has passed them)"
        print(
            f"  {report.already_replayed} dead letter(s) had been replayed {options.max_replays} time(s) already "
            f"and failed again: their cause is not fixed. See them with `dlq inspect`; once it is, replay them "
            f"with {how}"
        )
    for target, n in report.by_target.most_common():
        print(f"  -> {target}: {n}")
    if not args.dry_run:
        print(f"progress committed for group {group} in {report.chunks} chunk(s)")
    return 0


def main(args: argparse.Namespace) -> int:
    from connector.config import load_settings
    from connector.errors import RetriableError
    from connector.observability.logging import configure_logging
    from connector.ops.dlq import parse_since

    settings = load_settings(args.config)
    configure_logging(settings.observability.log_format, settings.observability.log_level)
    since_ms = parse_since(args.since) if args.since else None
    try:
        if args.dlq_command == "inspect":
            return _inspect(args, settings, since_ms)
        return _replay(args, settings, since_ms)
    except RetriableError as exc:
        print(f"error (run again to resume): {exc}", file=sys.stderr)
        return 1
