"""config/mappings/loyalty-events-avro.yaml gives the same XDM as the JSON loyalty mapping."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.config import AepSettings
from connector.mapping import compile_mappings, load_mapping_file
from connector.records import SourceRecord
from connector.serde.avro import AvroDeserializer, PlainAvroDeserializer
from tests.unit.serde.fakes import SAMPLES, FakeRegistry, avro_bytes, client_for, framed, sample_schema

MAPPINGS = Path(__file__).resolve().parents[3] / "config" / "mappings"
V1 = sample_schema("loyalty-event.avsc")
V2 = sample_schema("loyalty-event-v2.avsc")
JSON_SAMPLES: list[dict[str, Any]] = json.loads((SAMPLES / "loyalty-events.json").read_text())


def twin(sample: dict[str, Any]) -> dict[str, Any]:
    x = sample["_exchangeinternal"]
    return {
        "event_id": sample["_id"],
        "event_type": sample["eventType"],
        "event_time": datetime.fromisoformat(sample["timestamp"]),
        "loyalty_id": x["loyaltyID"],
        "points_earned": x["pointsEarned"],
        "total_points": x["totalPoints"],
        "loyalty_level": x["loyaltyLevel"],
    }


def mappings() -> tuple[Any, Any]:
    compiled, problems = compile_mappings(
        [load_mapping_file(MAPPINGS / "loyalty-events.yaml"), load_mapping_file(MAPPINGS / "loyalty-events-avro.yaml")],
        AepSettings(inlet_url="http://dcs.test/collection/abc"),
    )
    assert problems == []
    return compiled[0], compiled[1]


def test_every_sample_maps_to_the_same_entity_as_json() -> None:
    """All 20 samples, as framed Avro v1, map to the JSON mapping's xdmEntity."""
    by_json, by_avro = mappings()
    fake = FakeRegistry()
    fake.add(1, V1)
    decode = AvroDeserializer(client_for(fake).writer_schema)
    for sample in JSON_SAMPLES:
        record = SourceRecord("loyalty-events-avro", 0, 0, None, framed(1, V1, twin(sample)))
        got = by_avro.map(record, decode(record))["body"]["xdmEntity"]
        assert got == by_json.map(record, sample)["body"]["xdmEntity"]
        assert got["timestamp"] == sample["timestamp"]


def test_v2_adds_transaction_id_and_plain_avro_maps_too() -> None:
    """A v2 record carries transactionID; plain Avro with the local schema maps like framed."""
    _, by_avro = mappings()
    fake = FakeRegistry()
    fake.add(2, V2)
    decode = AvroDeserializer(client_for(fake).writer_schema)
    event = {**twin(JSON_SAMPLES[0]), "transaction_id": "tx-9"}
    record = SourceRecord("t", 0, 0, None, framed(2, V2, event))
    assert by_avro.map(record, decode(record))["body"]["xdmEntity"]["_exchangeinternal"]["transactionID"] == "tx-9"
    plain = PlainAvroDeserializer.from_file(SAMPLES / "loyalty-event.avsc")
    plain_record = SourceRecord("t", 0, 0, None, avro_bytes(V1, twin(JSON_SAMPLES[0])))
    framed_record = SourceRecord("t", 0, 0, None, framed(2, V2, {**twin(JSON_SAMPLES[0]), "transaction_id": None}))
    assert by_avro.map(plain_record, plain(plain_record)) == by_avro.map(framed_record, decode(framed_record))
