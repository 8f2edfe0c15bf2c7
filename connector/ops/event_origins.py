"""The Kafka origin of a failed Edge Network event, found from its `_id`.

A DCS envelope names its Kafka record in `header.msgId`; an Edge event has no envelope, and AEP's
failed file holds only its XDM. When a mapping leaves `_id` to the connector, the `_id` is
`sha256("topic/partition/offset")[:32]` (connector.mapping.mapper.default_event_id), so the record
is found by hashing coordinates, without reading one record:
  1. wanted: failed records with no origin whose `_id` has that form (32 lowercase hex digits);
  2. where: the partitions of the topics of the mappings writing their datasets (`^regex` patterns
     matched against the broker's topics);
  3. per partition, newest first: from the offset of the last failed batch's completion (plus
     `SLACK_MS`; the high watermark when nothing is that recent) down to the low watermark, a
     slice of each partition in turn, until every `_id` is found or `limit` offsets were hashed.
A record not found keeps no origin (an `_id` mapped by the mapping, an offset beyond the limit or
removed by retention): `failures --dead-letter` writes its XDM message, as for DCS without msgId.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from confluent_kafka import Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaTP

from connector.config import KafkaSettings, Settings
from connector.ops.clients import connection_config
from connector.ops.failures import FailedRecord, FailuresReport, Origin, topics_match

DEFAULT_LIMIT = 5_000_000  # offsets hashed per run: a few seconds
SLICE = 50_000
SLACK_MS = 600_000
TIMEOUT_S = 10.0
_DEFAULT_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(slots=True)
class Span:
    """Offsets of one partition still to hash: `[low, end)`, newest first."""

    topic: str
    partition: int
    low: int
    end: int


def wanted_ids(records: Iterable[FailedRecord]) -> set[str]:
    """The `_id`s worth searching for: records with no origin whose `_id` is a default one."""
    return {
        rec.event_id
        for rec in records
        if rec.origin is None and rec.event_id is not None and _DEFAULT_ID.fullmatch(rec.event_id)
    }


def scan(spans: list[Span], ids: Collection[str], limit: int) -> tuple[dict[str, Origin], int]:
    """(`_id` -> origin for each one found, offsets hashed): `SLICE` offsets of each span in turn, newest first."""
    wanted = {bytes.fromhex(i): i for i in ids}
    found: dict[str, Origin] = {}
    hashed = 0
    active = [s for s in spans if s.end > s.low]
    while active and len(found) < len(wanted) and hashed < limit:
        for span in active:
            start = max(span.low, span.end - SLICE, span.end - (limit - hashed))
            prefix, sha = f"{span.topic}/{span.partition}/".encode(), hashlib.sha256
            for offset in range(span.end - 1, start - 1, -1):
                digest = sha(prefix + str(offset).encode()).digest()[:16]
                if digest in wanted:
                    found[wanted[digest]] = (span.topic, span.partition, offset)
            hashed += span.end - start
            span.end = start
            if len(found) == len(wanted) or hashed >= limit:
                break
        active = [s for s in active if s.end > s.low]
    return found, hashed


def partition_spans(kafka: KafkaSettings, patterns: Collection[object], before_ms: int | None) -> list[Span]:
    """The partitions of the topics `patterns` take, each from its offset at `before_ms` down to its low watermark."""
    conf = connection_config(kafka)
    conf.update({"group.id": f"aep-connector-origins-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    consumer = Consumer(conf, logger=None)
    try:
        topics = consumer.list_topics(timeout=TIMEOUT_S).topics
        tps = [
            KafkaTP(name, p)
            for name in sorted(topics)
            if not name.startswith("__") and any(topics_match(pat, name) for pat in patterns)
            for p in sorted(topics[name].partitions)
        ]
        ends: dict[tuple[str, int], int] = {}
        if before_ms is not None and tps:
            for tp in consumer.offsets_for_times([KafkaTP(tp.topic, tp.partition, before_ms) for tp in tps], TIMEOUT_S):
                ends[(tp.topic, tp.partition)] = tp.offset
        spans = []
        for tp in tps:
            low, high = consumer.get_watermark_offsets(tp, timeout=TIMEOUT_S)
            end = ends.get((tp.topic, tp.partition), -1)
            spans.append(Span(tp.topic, tp.partition, low, high if end < 0 else min(end, high)))
        return spans
    finally:
        consumer.close()


def attach_origins(report: FailuresReport, settings: Settings, limit: int = DEFAULT_LIMIT) -> None:
    """Give the failed records without an origin the Kafka coordinates their default `_id` came from (in place)."""
    ids = wanted_ids(report.records)
    if not ids or limit <= 0:
        return
    specs: Mapping[str, Mapping[str, object]] = {m.name: m.spec for m in settings.mappings}
    batches = [b for b in report.batches if any(r.event_id in ids for r in b.records)]
    patterns = {
        str(pattern)
        for b in batches
        for name in report.datasets.get(b.dataset_id, [])
        for pattern in _topic_list(specs.get(name, {}).get("topics"))
    }
    times = [t for b in batches for t in (b.completed_ms, b.created_ms) if isinstance(t, int)]
    before_ms = max(times) + SLACK_MS if times else None
    try:
        found, hashed = scan(partition_spans(settings.kafka, patterns, before_ms), ids, limit)
    except KafkaException as exc:
        report.notes.append(f"could not search Kafka for the origins of {len(ids)} edge event(s): {exc}")
        return
    for batch in report.batches:
        batch.records = [_with_origin(r, found) for r in batch.records]
    missing = len(ids) - len(found)
    if missing:
        report.notes.append(
            f"{missing} failed event(s) without a Kafka origin after {hashed:,} offsets searched: a mapping that maps "
            "_id (or event_id) hides it, or the record is older than the search reached (--origin-scan) or gone; "
            "--dead-letter writes their XDM message"
        )


def _with_origin(rec: FailedRecord, found: Mapping[str, Origin]) -> FailedRecord:
    origin = found.get(rec.event_id) if rec.origin is None and rec.event_id is not None else None
    return rec if origin is None else replace(rec, found_origin=origin)


def _topic_list(topics: object) -> list[object]:
    return topics if isinstance(topics, list) else [topics]
