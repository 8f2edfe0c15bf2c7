"""OffsetTracker: only the contiguous prefix of final records is committable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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



# ---------------------------------------------------------------- runs: the worker's one call per partition run


@st.composite
def _script(draw: st.DrawFn) -> list[tuple[str, list[int], int]]:
    """Runs of increasing sparse offsets, some cut by a rewind (read again later); completions of
    tracked records in batches (often exactly the oldest ones, sometimes out of order or twice)."""
    ops: list[tuple[str, list[int], int]] = []
    nxt, tracked = 0, []
    for _ in range(draw(st.integers(1, 25))):
        if draw(st.booleans()):
            run = []
            for _ in range(draw(st.integers(0, 8))):
                nxt += draw(st.integers(1, 3))
                run.append(nxt)
            cut = draw(st.integers(0, len(run))) if draw(st.booleans()) else len(run)
            if cut < len(run):
                nxt = run[cut] - 1  # the rewind: that record and the ones after it are read again
            tracked += run[:cut]
            ops.append(("track", run, cut))
        elif tracked:
            picked = sorted(set(draw(st.lists(st.sampled_from(tracked), max_size=10))))
            ops.append(("complete", tracked[: len(picked)] if draw(st.booleans()) else picked, 0))
    return ops


@given(_script())
def test_runs_do_what_one_record_at_a_time_does(script: list[tuple[str, list[int], int]]) -> None:
    """track_run (+ untrack_from after a rewind) and complete_run leave what single calls would have."""
    runs, single = OffsetTracker(), OffsetTracker()
    for kind, offsets, cut in script:
        if kind == "track":
            runs.track_run(TP, offsets)
            if cut < len(offsets):
                runs.untrack_from(TP, offsets[cut])
            for o in offsets[:cut]:
                single.track(TP, o)
        else:
            runs.complete_run(TP, offsets)
            for o in offsets:
                single.complete(TP, o)
        assert runs.unfinished(TP) == single.unfinished(TP)
        assert runs.take_commits(everything=True) == single.take_commits(everything=True)


def test_track_run_refuses_offsets_out_of_order_like_track() -> None:
    t = OffsetTracker()
    t.track_run(TP, [5, 6])
    with pytest.raises(ValueError, match="out of order after 6"):
        t.track_run(TP, [6, 7])
    with pytest.raises(ValueError, match="out of order after 9"):
        t.track_run(TP, [8, 9, 9])
