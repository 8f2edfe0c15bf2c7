"""KafkaSource's Message -> SourceRecord conversion (the one place a consumed record is built)."""

from __future__ import annotations

from confluent_kafka import Message

from connector.kafka.source import to_record
from connector.records import SourceRecord, TopicPartition


def test_message_fields_become_a_source_record() -> None:
    """Topic, partition, offset, key, value, headers (as a tuple) and the CreateTime carry over."""
    msg = Message(topic="t", partition=2, offset=7, key=b"k", value=b"v", headers=[("h", b"1"), ("n", None)],
                  timestamp=(1, 1_700_000_000_123))
    rec = to_record(msg)
    assert rec == SourceRecord("t", 2, 7, b"k", b"v", (("h", b"1"), ("n", None)), 1_700_000_000_123)
    assert type(rec) is SourceRecord and rec.tp == TopicPartition("t", 2) and rec.next_offset == 8


def test_missing_headers_key_and_timestamp() -> None:
    """No headers gives (), a null key stays None, timestamp type NOT_AVAILABLE gives None."""
    rec = to_record(Message(topic="t", partition=0, offset=0, value=None, timestamp=(0, -1)))
    assert (rec.key, rec.value, rec.headers, rec.timestamp_ms) == (None, None, (), None)
