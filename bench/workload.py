"""What the end-to-end benchmark feeds the worker: ~1 KB loyalty events, their mappings, worker configs."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import fastavro
import orjson
import yaml
from confluent_kafka import Producer

from connector.mapping import load_mapping_file

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "connector"
SAMPLES = json.loads((PACKAGE / "samples" / "loyalty-events.json").read_text(encoding="utf-8"))
AVRO_SCHEMA_PATH = PACKAGE / "samples" / "loyalty-event-v2.avsc"
JSON_MAPPING = ROOT / "config" / "mappings" / "loyalty-events.yaml"
AVRO_MAPPING = ROOT / "config" / "mappings" / "loyalty-events-avro.yaml"
VALUE_BYTES = 1_000

_DEVICES = (
    ("mobile", "iOS 17.4", "iPhone15,2", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"),
    ("mobile", "Android 14", "Pixel 8", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/123.0"),
    ("desktop", "Windows 11", "PC", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/123.0"),
)
_GEO = (("US", "CA", "San Francisco", "94107"), ("GB", "ENG", "London", "EC1A"), ("DE", "BE", "Berlin", "10115"))
_CHANNELS = ("mobile-app", "web", "in-store", "call-center")


def _template(k: int) -> dict[str, Any]:
    """Sample `k` with the attributes a real loyalty event carries (program, store, device, geo, session)."""
    s: dict[str, Any] = copy.deepcopy(SAMPLES[k % len(SAMPLES)])
    kind, os_name, model, agent = _DEVICES[k % len(_DEVICES)]
    country, region, city, postal = _GEO[k % len(_GEO)]
    s["_exchangeinternal"].update(
        {
            "programID": "LOYALTY-PLUS-2020",
            "memberSince": f"201{k % 10}-0{k % 9 + 1}-1{k % 10}",
            "channel": _CHANNELS[k % len(_CHANNELS)],
            "storeID": f"store-{k * 37 % 1000:04d}",
            "transactionID": "",
            "currency": "USD",
            "amount": round(12.5 + k * 3.75, 2),
            "tierExpiry": "2021-03-31T23:59:59Z",
            "campaign": {"id": f"cmp-{k % 7}", "name": "spring-double-points", "medium": "email"},
        }
    )
    s["context"] = {
        "device": {"type": kind, "os": os_name, "model": model, "appVersion": f"4.{k % 20}.1"},
        "userAgent": agent,
        "geo": {"country": country, "region": region, "city": city, "postalCode": postal},
        "session": {"id": "", "pageViews": k % 13 + 1, "referrer": "https://www.example.com/promo/spring-double"},
        "consent": {"marketing": "y", "analytics": "y"},
        "notes": "",
    }
    return s


_TEMPLATES = [_template(k) for k in range(len(SAMPLES))]


def _pad_templates() -> None:
    """Pad each template so a serialised event is about VALUE_BYTES long."""
    for k, t in enumerate(_TEMPLATES):
        size = len(_event_bytes(t, 10**9 + k))
        t["context"]["notes"] = "n" * max(0, VALUE_BYTES - size)


def _event_bytes(t: dict[str, Any], i: int) -> bytes:
    t["_id"] = i
    t["_exchangeinternal"]["transactionID"] = f"tx-{i:012d}"
    t["context"]["session"]["id"] = f"s-{i // 7:016x}"
    return orjson.dumps(t)


_pad_templates()


def json_event(i: int) -> bytes:
    """Loyalty event number `i` (unique `_id`), about 1,000 bytes of JSON."""
    return _event_bytes(_TEMPLATES[i % len(_TEMPLATES)], i)


def json_events(n: int) -> Iterator[bytes]:
    return (json_event(i) for i in range(n))


def avro_event(i: int) -> dict[str, Any]:
    """The Avro twin (schema loyalty-event-v2.avsc) of event `i`."""
    s = SAMPLES[i % len(SAMPLES)]
    x = s["_exchangeinternal"]
    return {
        "event_id": i,
        "event_type": s["eventType"],
        "event_time": datetime.fromisoformat(s["timestamp"]),
        "loyalty_id": x["loyaltyID"],
        "points_earned": x["pointsEarned"],
        "total_points": x["totalPoints"],
        "loyalty_level": x["loyaltyLevel"],
        "transaction_id": f"tx-{i}" if i % 2 else None,
    }


def avro_schema_text() -> str:
    return AVRO_SCHEMA_PATH.read_text(encoding="utf-8")


def registry_avro_values(registry_url: str, topic: str, n: int) -> Iterator[bytes]:
    """Confluent-framed Avro, serialised by confluent-kafka's AvroSerializer against a real registry."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serializer = AvroSerializer(SchemaRegistryClient({"url": registry_url}), avro_schema_text())
    ctx = SerializationContext(topic, MessageField.VALUE)
    for i in range(n):
        out = serializer(avro_event(i), ctx)
        assert out is not None
        yield out


def plain_avro_values(n: int) -> Iterator[bytes]:
    """Schemaless Avro bodies (format avro-plain), for when the registry cannot start."""
    schema = fastavro.parse_schema(json.loads(avro_schema_text()))
    for i in range(n):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, avro_event(i))
        yield buf.getvalue()


def produce(bootstrap: str, topic: str, values: Iterator[bytes], *, compression: str = "lz4") -> int:
    """Produce values round-robin over partitions (keyed by index) and wait for every ack."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": compression,
            "queue.buffering.max.kbytes": 262_144,
            "enable.idempotence": True,
            "log_level": 4,
        }
    )
    n = 0
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for value in values:
        key = str(n).encode()
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(120)
    if left or errors:
        raise RuntimeError(f"produce to {topic}: {left} unacknowledged, errors: {errors[:3]}")
    return n


def json_mapping(topic: str) -> dict[str, Any]:
    """loyalty-events.yaml for `topic`, mapping also the extra attributes and the Kafka timestamp."""
    spec: dict[str, Any] = copy.deepcopy(dict(load_mapping_file(JSON_MAPPING).spec))
    spec["name"] = f"bench-{topic}"
    spec["topics"] = [topic]
    spec["fields"]["_exchangeinternal"].update(
        {
            "programID": "value._exchangeinternal.programID",
            "channel": "value._exchangeinternal.channel",
            "storeID": "value._exchangeinternal.storeID",
            "transactionID": "value._exchangeinternal.transactionID",
            "campaignID": "value._exchangeinternal.campaign.id",
            "kafkaTs": "timestamp",
        }
    )
    spec["fields"].update(
        {
            "device": {"type": "value.context.device.type", "model": "value.context.device.model"},
            "environment": {
                "operatingSystem": "value.context.device.os",
                "browserDetails": {"userAgent": "value.context.userAgent"},
            },
            "placeContext": {
                "geo": {
                    "countryCode": "value.context.geo.country",
                    "city": "value.context.geo.city",
                    "postalCode": "value.context.geo.postalCode",
                }
            },
        }
    )
    return spec


def avro_mapping(topic: str, plain: bool) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(dict(load_mapping_file(AVRO_MAPPING).spec))
    spec["name"] = f"bench-{topic}"
    spec["topics"] = [topic]
    if plain:
        spec["format"] = "avro-plain"
        spec["avro_schema"] = str(AVRO_SCHEMA_PATH)
    return spec


def write_config(
    path: Path,
    *,
    bootstrap: str,
    group: str,
    topics: list[str],
    inlet_url: str,
    mappings: list[dict[str, Any]],
    batching: dict[str, Any],
    consumer: dict[str, Any],
    registry_url: str | None = None,
) -> Path:
    """A worker config file as a user would write it (JSON logs at info, for the assignment time)."""
    config: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": group, "topics": topics, "consumer": consumer},
        "aep": {"inlet_url": inlet_url},
        "dead_letter": {"topic": f"{group}-dlq"},
        "batching": batching,
        "observability": {"log_level": "info", "log_format": "json"},
        "mappings": mappings,
    }
    if registry_url:
        config["schema_registry"] = {"url": registry_url}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
