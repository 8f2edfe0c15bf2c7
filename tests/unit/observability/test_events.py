"""The rate-limited event aggregator: first occurrence at once, repeats counted per window, episodes end."""

from __future__ import annotations

import pytest

from connector.observability.events import EventAggregator
from tests.unit.observability.fakes import Clock, RecordingLogger


def _aggregator(window_s: float = 30.0) -> tuple[EventAggregator, RecordingLogger, Clock]:
    logger, clock = RecordingLogger(), Clock()
    return EventAggregator(logger, window_s=window_s, clock=clock, background=False), logger, clock


def test_first_occurrence_is_logged_at_once_with_key_and_details() -> None:
    """The first note of an episode is one line carrying the key fields and the details, at its level."""
    events, logger, _ = _aggregator()
    events.note("dcs_retry", {"inlet": "i1"}, level="warning", status=503)
    assert logger.lines == [("warning", "dcs_retry", {"inlet": "i1", "status": 503})]


def test_a_storm_is_one_line_then_one_summary_per_window() -> None:
    """1,000 repeats within a window add no line; the window's end logs one line with repeated=N."""
    events, logger, clock = _aggregator()
    for i in range(1001):
        events.note("dcs_retry", {"inlet": "i1"}, attempt=i)
        clock.advance(0.01)
    assert len(logger.lines) == 1
    clock.advance(30)
    events.flush()
    assert len(logger.lines) == 2
    level, event, fields = logger.lines[1]
    assert (level, event, fields["repeated"], fields["attempt"], fields["inlet"]) == (
        "warning", "dcs_retry", 1000, 1000, "i1"
    )
    assert fields["since_s"] >= 30


def test_keys_are_separate_episodes() -> None:
    """Different key fields (or events) are counted apart and each logs its first occurrence."""
    events, logger, _ = _aggregator()
    for _ in range(3):
        events.note("dcs_retry", {"cause": "5xx"})
        events.note("dcs_retry", {"cause": "timeout"})
        events.note("dcs_throttled", {"cause": "5xx"})
    assert [(e, f.get("cause")) for _, e, f in logger.lines] == [
        ("dcs_retry", "5xx"), ("dcs_retry", "timeout"), ("dcs_throttled", "5xx")
    ]


def test_a_quiet_window_ends_the_episode_and_logs_the_ended_event() -> None:
    """With `ended`, a window without repeats logs that event once (info), and the next note starts afresh."""
    events, logger, clock = _aggregator(window_s=10)
    events.note("kafka_unreachable", {"client": "consumer"}, ended="kafka_reachable", error="refused")
    clock.advance(4)
    events.note("kafka_unreachable", {"client": "consumer"}, ended="kafka_reachable", error="refused")
    clock.advance(6)
    events.flush()  # window 1 had one repeat: summary
    clock.advance(10)
    events.flush()  # window 2 was quiet: ended
    assert logger.events() == ["kafka_unreachable", "kafka_unreachable", "kafka_reachable"]
    assert logger.lines[2] == ("info", "kafka_reachable", {"client": "consumer", "occurrences": 2, "lasted_s": 4.0})
    events.note("kafka_unreachable", {"client": "consumer"}, ended="kafka_reachable", error="refused")
    assert logger.events()[-1] == "kafka_unreachable" and len(logger.lines) == 4


def test_summed_fields_total_the_window() -> None:
    """Fields named in `sums` carry their total over the window's repeats, not the last value."""
    events, logger, clock = _aggregator()
    for n in (8, 4, 2, 1):
        events.note("dcs_batch_split", {"inlet": "i"}, level="info", sums=("records",), records=n)
    clock.advance(31)
    events.flush()
    assert logger.lines[0][2]["records"] == 8
    assert logger.lines[1][2]["records"] == 7 and logger.lines[1][2]["repeated"] == 3


def test_close_logs_open_windows_with_repeats() -> None:
    """At shutdown the counts of open windows are not lost."""
    events, logger, _ = _aggregator()
    events.note("dcs_retry", {"inlet": "i"})
    events.note("dcs_retry", {"inlet": "i"})
    events.note("dcs_throttled", {"inlet": "i"})
    events.close()
    assert logger.events() == ["dcs_retry", "dcs_throttled", "dcs_retry"]
    assert logger.lines[-1][2]["repeated"] == 1


def test_unknown_level_is_refused() -> None:
    """A typo in a level fails loudly instead of dropping the event."""
    events, _, _ = _aggregator()
    with pytest.raises(ValueError, match="unknown level"):
        events.note("x", level="warn")
