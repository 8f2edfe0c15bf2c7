"""Reading AEP's failed-batch files tolerantly: formats, error shapes, the Kafka origin, batch counts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from connector.config import (
    AepSettings,
    BatchingSettings,
    DeadLetterSettings,
    DeliverySettings,
    KafkaSettings,
    MappingSource,
    ObservabilitySettings,
    Settings,
)
from connector.numbers import json_bytes
from connector.ops.failures import (
    FailedRecord,
    FailuresReport,
    configured_datasets,
    failed_count,
    mapping_finder,
    parse_failed_file,
    record_of,
)

ERR = {"keyword": "enum", "pointerToViolation": "#/_acme/level", "message": "Bronze is not a valid enum value"}
MESSAGE = {"header": {"msgId": "orders.v1/3/1234", "datasetId": "ds"}, "body": {"xdmEntity": {"_acme": {"level": "B"}}}}


@pytest.mark.parametrize(
    "content",
    [
        orjson.dumps({**MESSAGE, "_validationErrors": [ERR]}) + b"\n" + orjson.dumps({"_validationErrors": [ERR]}),
        orjson.dumps([{**MESSAGE, "_validationErrors": [ERR]}, {"_validationErrors": [ERR]}]),
    ],
)
def test_json_lines_and_arrays_are_read(content: bytes) -> None:
    """A failed file is JSON Lines or a JSON array; each item becomes one record."""
    items = parse_failed_file(content)
    assert len(items) == 2 and items[0]["header"]["msgId"] == "orders.v1/3/1234"


def test_one_object_and_bad_lines() -> None:
    """A single JSON object is one record; an unreadable line is kept (as text) rather than lost."""
    assert parse_failed_file(orjson.dumps({"_validationErrors": [ERR]})) == [{"_validationErrors": [ERR]}]
    assert parse_failed_file(b'{"a": 1}\n{broken\n') == [{"a": 1}, "{broken"]
    assert parse_failed_file(b"  \n") == []
    rec = record_of("b", "ds", "f", 1, "{broken")
    assert rec.message is None and "unreadable line" in rec.describe()


def test_record_with_message_has_origin_entity_and_errors() -> None:
    """The message's msgId is the Kafka origin; describe() gives AEP's errors in one line."""
    rec = record_of("01B", "ds", "part-0.json", 4, {**MESSAGE, "_validationErrors": [ERR]})
    assert rec.origin == ("orders.v1", 3, 1234)
    assert rec.entity == {"_acme": {"level": "B"}}
    assert rec.key == "01B/part-0.json/4"
    assert rec.describe() == "#/_acme/level enum: Bronze is not a valid enum value"


@pytest.mark.parametrize("msg_id", [None, 7, "no-slashes", "t/x/1", "t/1/", "/1/2"])
def test_unusable_msg_ids_give_no_origin(msg_id: Any) -> None:
    """Anything but topic/partition/offset is no origin (the record then goes to the DLQ as the XDM message)."""
    rec = FailedRecord("b", "ds", "f", 0, (), {"header": {"msgId": msg_id}, "body": {}})
    assert rec.origin is None


def test_legacy_errors_and_bare_entities() -> None:
    """`_errors: {_streamingValidation: [...]}` counts as errors; a line holding a bare entity is wrapped."""
    rec = record_of("b", "ds", "f", 0, {"_errors": {"_streamingValidation": [{"message": "bad"}]}, "_id": "e1"})
    assert rec.errors == ({"message": "bad"},) and rec.entity == {"_id": "e1"}
    only_errors = record_of("b", "ds", "f", 0, {"_validationErrors": [ERR]})
    assert only_errors.message is None and only_errors.entity is None


def test_failed_counts_from_metrics_or_top_level() -> None:
    """failedRecordCount is read from metrics (error-diagnostics guide) or the batch itself (catalog.yaml)."""
    assert failed_count({"metrics": {"failedRecordCount": 2}}) == 2
    assert failed_count({"failedRecordCount": 3}) == 3
    assert failed_count({"status": "success"}) is None


def _settings(mappings: list[tuple[str, dict[str, Any]]], flow_id: str | None = None) -> Settings:
    sources = tuple(MappingSource(name, spec, "test", Path(".")) for name, spec in mappings)
    return Settings(
        KafkaSettings("k:9092", "g", ("a",)),
        AepSettings("https://dcs.example/collection/x", flow_id=flow_id),
        DeadLetterSettings("dlq"),
        BatchingSettings(),
        DeliverySettings(),
        ObservabilitySettings(),
        sources,
    )


def test_datasets_and_mappings_come_from_the_config() -> None:
    """Each mapping's dataset_id is a configured dataset; the failed record's topic picks its mapping."""
    settings = _settings(
        [
            ("events-json", {"dataset_id": "ev", "topics": ["events"]}),
            ("events-avro", {"dataset_id": "ev", "topics": ["^events-avro.*"]}),
            ("profiles", {"dataset_id": "pr", "topics": ["profiles"]}),
        ]
    )
    datasets, notes = configured_datasets(settings, None)
    assert datasets == {"ev": ["events-json", "events-avro"], "pr": ["profiles"]} and notes == []
    mapping_of = mapping_finder(settings, FailuresReport(datasets, None))

    def rec(ds: str, msg_id: str | None) -> FailedRecord:
        return FailedRecord("b", ds, "f", 0, (), {"header": {"msgId": msg_id}})

    assert mapping_of(rec("ev", "events-avro-v2/0/1")) == "events-avro"
    assert mapping_of(rec("ev", "events/0/1")) == "events-json"
    assert mapping_of(rec("ev", None)) is None, "two mappings write to ev: without an origin it is unknown"
    assert mapping_of(rec("pr", None)) == "profiles"


def test_long_numbers_in_failed_files_stay_exact() -> None:
    """A number with more digits than a double holds is read exactly, so a dead-lettered XDM message keeps it."""
    (item,) = parse_failed_file(b'{"body": {"xdmEntity": {"amount": 12345678901234567.89}}, "_validationErrors": []}')
    assert (
        json_bytes(record_of("b", "ds", "f", 0, item).message)
        == b'{"body":{"xdmEntity":{"amount":12345678901234567.89}}}'
    )


def test_edge_mappings_name_their_dataset_or_get_a_note() -> None:
    """An edge mapping's dataset is its event dataset override, else its dataset_id; without either, a note
    says what to set. The config-wide dataflow is a DCS thing and never attributes an edge mapping."""
    override = {"com_adobe_experience_platform": {"datasets": {"event": {"datasetId": "ov"}}}}
    settings = _settings(
        [
            ("web", {"destination": "edge", "datastream_id": "d1", "dataset_id": "ev", "topics": ["web"]}),
            (
                "app",
                {"destination": "edge", "datastream_id": "d2", "dataset_id": "ev", "datastream_overrides": override},
            ),
            ("pos", {"destination": "edge", "datastream_id": "d3", "topics": ["pos"]}),
        ],
        flow_id="flow-1",
    )
    datasets, notes = configured_datasets(settings, None)
    assert datasets == {"ev": ["web"], "ov": ["app"]}
    assert notes == [
        "mapping pos sends to datastream d3: set its dataset_id to the datastream's event dataset to find the "
        "events AEP failed there"
    ]


def test_a_found_origin_stands_in_when_there_is_no_msg_id() -> None:
    """An Edge event (a bare entity in the failed file) has no msgId: the origin found from its _id is used;
    a msgId, when there is one, wins."""
    rec = record_of("b", "ds", "f", 0, {"_id": "abc", "_validationErrors": [ERR]})
    assert rec.origin is None and rec.event_id == "abc"
    assert replace(rec, found_origin=("web", 1, 9)).origin == ("web", 1, 9)
    dcs = record_of("b", "ds", "f", 0, {**MESSAGE, "_validationErrors": [ERR]})
    assert replace(dcs, found_origin=("web", 1, 9)).origin == ("orders.v1", 3, 1234)
