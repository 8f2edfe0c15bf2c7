"""Produce Adobe's loyalty sample data (profiles and events) to Kafka, for the demo stack.

    python -m connector.ops.sample_producer --bootstrap-servers kafka:9092 --rate 50 --loop

Profiles are keyed by loyalty id. With `--loop` every pass re-sends the profiles and sends the
events again with fresh `_id`s and timestamps (the ExperienceEvent store drops repeated `_id`s).
`--bad-every N` makes every N-th record unreadable JSON, so the dead-letter panels show data.
`--avro-topic T --schema-registry URL` also sends each event to T as Confluent-framed Avro, with
the writer schema connector/samples/loyalty-event.avsc registered under `T-value`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib import resources
from types import FrameType
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from connector.ops.samples import SAMPLES, avro_twin
from connector.serde.avro_write import AvroEncoder
from connector.serde.registry_write import RegistryWriter, value_subject

PROFILES_TOPIC = "loyalty-profiles"
EVENTS_TOPIC = "loyalty-events"


AVRO_ID_BASE = 10_000_000  # Avro twins get event ids apart from the JSON events' _ids (one dataset)


def avro_encoder(registry_url: str, topic: str) -> AvroEncoder:
    """Register the loyalty event schema under `<topic>-value`; encode Confluent-framed with its id."""
    sample = SAMPLES["loyalty-events-avro"]
    text = sample.schema_text()
    assert text is not None
    schema_id = RegistryWriter(registry_url).register(value_subject(topic), text)
    return AvroEncoder(text, schema_id, str(sample.avro_schema))


def load_samples() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    pkg = resources.files("connector") / "samples"
    profiles = json.loads((pkg / "loyalty-profiles.json").read_text(encoding="utf-8"))
    events = json.loads((pkg / "loyalty-events.json").read_text(encoding="utf-8"))
    return profiles, events


def records(
    profiles: list[dict[str, Any]],
    events: list[dict[str, Any]],
    passes: int | None,
    profiles_topic: str,
    events_topic: str,
) -> Iterator[tuple[str, bytes, bytes]]:
    """(topic, key, value) for `passes` passes over the samples (None: forever)."""
    n = 0
    while passes is None or n < passes:
        for p in profiles:
            key = str(p["_exchangeinternal"]["loyaltyID"]).encode()
            yield profiles_topic, key, json.dumps(p).encode()
        for e in events:
            event = dict(e)
            if n:
                event["_id"] = f"{e['_id']}-{n}"
                event["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            key = str(e["_exchangeinternal"]["loyaltyID"]).encode()
            yield events_topic, key, json.dumps(event).encode()
        n += 1


def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=30).topics)
    new = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics if t not in existing]
    for name, future in admin.create_topics(new).items() if new else []:
        try:
            future.result(timeout=30)
        except Exception as exc:  # already created by a concurrent producer or auto-creation
            print(f"topic {name}: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.ops.sample_producer", description=__doc__)
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--profiles-topic", default=PROFILES_TOPIC)
    parser.add_argument("--events-topic", default=EVENTS_TOPIC)
    parser.add_argument("--partitions", type=int, default=6, help="partitions for topics created here")
    parser.add_argument("--rate", type=float, default=0.0, help="records per second (0: as fast as possible)")
    parser.add_argument("--loop", action="store_true", help="repeat forever")
    parser.add_argument("--passes", type=int, default=1, help="passes over the samples without --loop")
    parser.add_argument("--bad-every", type=int, default=0, metavar="N", help="make every N-th record invalid JSON")
    parser.add_argument("--avro-topic", help="also send each event here as Confluent-framed Avro")
    parser.add_argument("--schema-registry", metavar="URL", help="Confluent-compatible registry for --avro-topic")
    args = parser.parse_args(argv)
    if bool(args.avro_topic) != bool(args.schema_registry):
        parser.error("--avro-topic and --schema-registry go together")

    stop = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    topics = [args.profiles_topic, args.events_topic, *([args.avro_topic] if args.avro_topic else [])]
    ensure_topics(args.bootstrap_servers, topics, args.partitions)
    avro = avro_encoder(args.schema_registry, args.avro_topic) if args.avro_topic else None
    producer = Producer({"bootstrap.servers": args.bootstrap_servers, "enable.idempotence": True, "linger.ms": 20})
    profiles, events = load_samples()
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    sent = 0
    started = time.monotonic()
    passes = None if args.loop else args.passes
    for topic, key, value in records(profiles, events, passes, args.profiles_topic, args.events_topic):
        if stop:
            break
        bad = args.bad_every and sent % args.bad_every == args.bad_every - 1
        producer.produce(topic, key=key, value=b"{not json" if bad else value)
        if avro is not None and topic == args.events_topic:
            twin = {**avro_twin(json.loads(value)), "event_id": AVRO_ID_BASE + sent}
            producer.produce(args.avro_topic, key=key, value=avro(twin))
        producer.poll(0)
        sent += 1
        if interval:
            delay = started + sent * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if sent % 1000 == 0:
            print(json.dumps({"event": "sample_records_sent", "sent": sent}), flush=True)
    left = producer.flush(30)
    print(json.dumps({"event": "sample_producer_done", "sent": sent, "undelivered": left}), flush=True)
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
