"""build_deserializers: one decoder per mapping format, every problem collected, no network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests

from connector.config import (
    AepSettings,
    BatchingSettings,
    DeadLetterSettings,
    DeliverySettings,
    KafkaSettings,
    ObservabilitySettings,
    SchemaRegistrySettings,
    Settings,
)
from connector.records import SourceRecord
from connector.serde.avro import AvroDeserializer, PlainAvroDeserializer
from connector.serde.factory import build_deserializers
from connector.serde.json import JsonDeserializer
from connector.serde.keys import WithAvroKey, WithKey
from tests.unit.serde.fakes import REGISTRY_URL, SAMPLES, FakeRegistry, avro_bytes, framed, sample_schema


@dataclass
class FakeMapping:
    name: str
    format: str
    key_format: str = "string"
    avro_schema_path: Path | None = None


def settings(url: str | None = REGISTRY_URL) -> Settings:
    return Settings(
        kafka=KafkaSettings("localhost:9092", "g", ("t",)),
        aep=AepSettings(inlet_url="http://dcs.test/collection/abc"),
        dead_letter=DeadLetterSettings("dlq"),
        batching=BatchingSettings(),
        delivery=DeliverySettings(),
        observability=ObservabilitySettings(),
        mappings=(),
        schema_registry=SchemaRegistrySettings(url=url),
    )


def test_one_decoder_per_format() -> None:
    """json, avro and avro-plain each get their decoder; nothing is fetched at build time."""
    fake = FakeRegistry()
    session = requests.Session()
    session.mount("http://", fake)
    mappings = [
        FakeMapping("j", "json"),
        FakeMapping("a", "avro"),
        FakeMapping("p", "avro-plain", avro_schema_path=SAMPLES / "loyalty-event.avsc"),
    ]
    out, problems = build_deserializers(mappings, settings(), session)
    assert problems == []
    assert isinstance(out["j"], JsonDeserializer)
    assert isinstance(out["a"], AvroDeserializer)
    assert isinstance(out["p"], PlainAvroDeserializer)
    assert fake.seen == []


def test_avro_mappings_share_one_registry_cache() -> None:
    """Two avro mappings fetch a shared schema id once."""
    v1 = sample_schema("loyalty-event.avsc")
    event = {"event_id": 1, "event_type": "loyaltyLevelUpdate", "event_time": 0, "loyalty_id": "a",
             "points_earned": 1, "total_points": 2, "loyalty_level": "Gold"}  # fmt: skip
    fake = FakeRegistry()
    fake.add(1, v1)
    session = requests.Session()
    session.mount("http://", fake)
    out, _ = build_deserializers([FakeMapping("a", "avro"), FakeMapping("b", "avro")], settings(), session)
    record = SourceRecord("t", 0, 0, None, framed(1, v1, event))
    assert out["a"](record)["loyalty_id"] == out["b"](record)["loyalty_id"] == "a"
    assert len(fake.seen) == 1


def test_avro_key_wraps_the_value_decoder() -> None:
    """key_format avro returns WithKey from the mapping's decoder."""
    key_schema = {"type": "string"}
    fake = FakeRegistry()
    fake.add(9, key_schema)
    session = requests.Session()
    session.mount("http://", fake)
    out, problems = build_deserializers([FakeMapping("j", "json", key_format="avro")], settings(), session)
    assert problems == []
    assert isinstance(out["j"], WithAvroKey)
    record = SourceRecord("t", 0, 0, framed(9, key_schema, "k-1"), b'{"x": 1}')
    assert out["j"](record) == WithKey({"x": 1}, "k-1")


def test_every_problem_is_reported(tmp_path: Path) -> None:
    """Missing url, missing/invalid schema files and unknown formats are all listed."""
    bad = tmp_path / "bad.avsc"
    bad.write_text("not json")
    mappings = [
        FakeMapping("a", "avro"),
        FakeMapping("k", "json", key_format="avro"),
        FakeMapping("p1", "avro-plain"),
        FakeMapping("p2", "avro-plain", avro_schema_path=tmp_path / "missing.avsc"),
        FakeMapping("p3", "avro-plain", avro_schema_path=bad),
        FakeMapping("x", "protobuf"),
        FakeMapping("y", "json", key_format="xml"),
    ]
    out, problems = build_deserializers(mappings, settings(url=None))
    assert out == {}
    text = "\n".join(problems)
    assert len(problems) == 7, text
    for name, fragment in [("a", "schema_registry.url"), ("k", "schema_registry.url"), ("p1", "avro_schema"),
                           ("p2", "missing.avsc"), ("p3", "not valid JSON"), ("x", "unknown format 'protobuf'"),
                           ("y", "unknown key_format 'xml'")]:  # fmt: skip
        assert any(p.startswith(f"mapping {name}:") and fragment in p for p in problems), (name, text)


def test_plain_decoder_reads_local_schema_bytes() -> None:
    """The avro-plain decoder built from the mapping's schema path decodes plain bytes."""
    v1 = sample_schema("loyalty-event.avsc")
    event = {"event_id": 1, "event_type": "loyaltyLevelUpdate", "event_time": 0, "loyalty_id": "a",
             "points_earned": 1, "total_points": 2, "loyalty_level": "Gold"}  # fmt: skip
    out, _ = build_deserializers([FakeMapping("p", "avro-plain", avro_schema_path=SAMPLES / "loyalty-event.avsc")],
                                 settings(url=None))  # fmt: skip
    assert out["p"](SourceRecord("t", 0, 0, None, avro_bytes(v1, event)))["loyalty_level"] == "Gold"
