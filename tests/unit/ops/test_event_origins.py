"""Finding an Edge event's Kafka record from its default `_id`: the hash scan, its order and its limit."""

from __future__ import annotations

from connector.mapping.mapper import default_event_id
from connector.ops.event_origins import SLICE, Span, attach_origins, scan, wanted_ids
from connector.ops.failures import FailedBatch, FailuresReport, record_of
from connector.records import SourceRecord


def event_id(topic: str, partition: int, offset: int) -> str:
    return default_event_id(SourceRecord(topic, partition, offset, None, b"{}"))


def test_the_scan_finds_the_coordinates_the_mapper_derived_the_id_from() -> None:
    """The `_id`s the mapper gives events (no `_id` mapped) lead back to topic, partition and offset."""
    spans = [Span("web", 0, 0, 1_000), Span("web", 1, 500, 2_000)]
    ids = {event_id("web", 0, 17), event_id("web", 1, 1_999), event_id("web", 1, 500)}
    found, hashed = scan(spans, ids, limit=10_000)
    assert found == {
        event_id("web", 0, 17): ("web", 0, 17),
        event_id("web", 1, 1_999): ("web", 1, 1_999),
        event_id("web", 1, 500): ("web", 1, 500),
    }
    assert hashed <= 2_500


def test_the_scan_goes_newest_first_and_stops_at_the_limit() -> None:
    """Offsets just below each span's end are hashed first; past the limit nothing more is hashed."""
    end = 3 * SLICE
    spans = [Span("t", 0, 0, end), Span("t", 1, 0, end)]
    recent, old = event_id("t", 1, end - 5), event_id("t", 0, 3)
    found, hashed = scan(spans, {recent, old}, limit=SLICE + 10)
    assert found == {recent: ("t", 1, end - 5)} and hashed == SLICE + 10


def test_the_scan_stops_once_everything_is_found() -> None:
    """One `_id` in the newest slice of the first partition: that slice is all that is hashed."""
    spans = [Span("t", 0, 0, 10 * SLICE), Span("t", 1, 0, 10 * SLICE)]
    found, hashed = scan(spans, {event_id("t", 0, 10 * SLICE - 1)}, limit=10**9)
    assert len(found) == 1 and hashed == SLICE


def test_only_records_without_origin_and_with_a_default_id_are_searched() -> None:
    """A msgId already names the record; an `_id` the mapping chose (not 32 hex digits) cannot be traced."""
    default = event_id("web", 0, 1)
    records = [
        record_of("b", "ds", "f", 0, {"_id": default}),
        record_of("b", "ds", "f", 1, {"_id": "order-42"}),
        record_of("b", "ds", "f", 2, {"header": {"msgId": "web/0/2"}, "body": {"xdmEntity": {"_id": default}}}),
        record_of("b", "ds", "f", 3, {"_validationErrors": []}),
    ]
    assert wanted_ids(records) == {default}


def test_nothing_to_search_needs_no_kafka() -> None:
    """A report whose records all have origins (or no default _id) never contacts the broker."""
    report = FailuresReport({"ds": ["m"]}, None)
    batch = FailedBatch("b", "ds", "success", 1, 2, 2, 1)
    batch.records = [record_of("b", "ds", "f", 0, {"_id": "order-42"})]
    report.batches.append(batch)
    attach_origins(report, settings=None, limit=1_000)  # type: ignore[arg-type]  # settings is not read
    assert report.batches[0].records[0].origin is None and report.notes == []
