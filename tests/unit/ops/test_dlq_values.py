"""Dead-letter values: --since parsing, filters and the headers a replayed record carries."""

from __future__ import annotations

import pytest

from connector.errors import FatalError
from connector.kafka.dead_letter import H_MESSAGE, H_OFFSET, H_REASON, H_TIME, H_TOPIC
from connector.ops.dlq import REPLAY_HEADER, DeadLetter, parse_since

REPLAY_COUNT = "__aep.replay.count"

NOW = 1_700_000_000.0


def test_parse_since_accepts_relative_iso_and_epoch_ms() -> None:
    """30m / 2h / 1d count back from now; ISO times (UTC when naive) and epoch ms are absolute."""
    assert parse_since("30m", NOW) == int((NOW - 1800) * 1000)
    assert parse_since("2h", NOW) == int((NOW - 7200) * 1000)
    assert parse_since("1d", NOW) == int((NOW - 86400) * 1000)
    assert parse_since("2023-11-14T22:13:20Z", NOW) == 1_700_000_000_000
    assert parse_since("2023-11-14T22:13:20", NOW) == 1_700_000_000_000
    assert parse_since("1700000000000", NOW) == 1_700_000_000_000
    with pytest.raises(FatalError):
        parse_since("yesterday", NOW)


def _dl(**extra: bytes) -> DeadLetter:
    headers: list[tuple[str, bytes | None]] = [
        ("trace-id", b"t-1"),
        (H_TOPIC, b"orders"),
        (H_OFFSET, b"41"),
        (H_MESSAGE, b"bad json"),
        (H_REASON, b"invalid-json"),
        (H_TIME, b"1700000000500"),
        *extra.items(),
    ]
    return DeadLetter(2, 17, b"k", b"v", headers, 1_600_000_000_000)


def test_replay_headers_drop_error_headers_and_mark_the_origin() -> None:
    """Original headers stay in order; error headers and older replay marks go; this replay's marks are added."""
    dl = _dl()
    assert dl.replay_count == 0
    assert dl.replay_headers("orders.dlq") == [
        ("trace-id", b"t-1"),
        (REPLAY_HEADER, b"orders.dlq/2/17"),
        (REPLAY_COUNT, b"1"),
    ]


def test_replay_lineage_counts_up_from_the_dead_letter() -> None:
    """A dead letter of a replayed record carries its replay count, and the next replay counts one more."""
    again = _dl(**{REPLAY_HEADER: b"orders.dlq/0/3", REPLAY_COUNT: b"1"})
    assert again.replay_count == 1
    assert again.replay_headers("orders.dlq")[-2:] == [(REPLAY_HEADER, b"orders.dlq/2/17"), (REPLAY_COUNT, b"2")]
    legacy = _dl(**{REPLAY_HEADER: b"orders.dlq/0/3"})  # marked by a version that kept no count
    assert legacy.replay_count == 1


def test_filters_by_reason_and_failure_time() -> None:
    """The reason header and the failure timestamp header decide --reason and --since."""
    dl = _dl()
    assert dl.reason == "invalid-json" and dl.source_topic == "orders"
    assert dl.matches("invalid-json", 1_700_000_000_000)
    assert not dl.matches("aep-rejected", None)
    assert not dl.matches(None, 1_700_000_001_000)
