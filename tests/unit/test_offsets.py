"""OffsetTracker: only the contiguous prefix of final records is committable."""

from __future__ import annotations

from connector.offsets import OffsetTracker
from connector.records import TopicPartition

TP = TopicPartition("t", 0)


def test_nothing_committable_until_first_record_final() -> None:
    """A later record finishing first does not move the watermark."""
    t = OffsetTracker()
    for off in (10, 11, 12):
        t.track(TP, off)
    t.complete(TP, 11)
    assert t.take_commits() == {}
    t.complete(TP, 10)
    assert t.take_commits() == {TP: 12}
    t.complete(TP, 12)
    assert t.take_commits() == {TP: 13}
    assert t.unfinished() == 0


def test_sparse_offsets_commit_next_offset_of_last_final() -> None:
    """Offsets with gaps (compaction) commit last-final + 1."""
    t = OffsetTracker()
    for off in (5, 9, 20):
        t.track(TP, off)
    t.complete(TP, 5)
    t.complete(TP, 9)
    assert t.take_commits() == {TP: 10}
    assert t.unfinished(TP) == 1


def test_take_commits_reports_only_moved_partitions() -> None:
    """A partition whose watermark did not move since the last take is not re-committed."""
    t = OffsetTracker()
    t.track(TP, 0)
    t.complete(TP, 0)
    assert t.take_commits() == {TP: 1}
    assert t.take_commits() == {}


def test_forget_ignores_late_completions() -> None:
    """Completions for a revoked partition are ignored."""
    t = OffsetTracker()
    t.track(TP, 0)
    t.forget(TP)
    t.complete(TP, 0)
    assert t.take_commits() == {}


def test_take_everything_resends_unmoved_watermarks() -> None:
    """A watermark already handed out is offered again on request (its commit may have failed)."""
    t = OffsetTracker()
    t.track(TP, 0)
    t.complete(TP, 0)
    assert t.take_commits() == {TP: 1}
    assert t.take_commits() == {}
    assert t.take_commits(everything=True) == {TP: 1}
