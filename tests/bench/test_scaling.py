"""The `--processes 2` figures: the rate once every process held partitions, and when the target applies."""

from __future__ import annotations

import os
from pathlib import Path

from bench.e2e import RunResult, rate_after
from bench.report import Verdict, verdicts
from bench.suite import PROCESSES, PROJECT, Options, Results


def test_rate_after_counts_from_the_moment_given_interpolating_the_accepted_count() -> None:
    samples = [(0.0, 0), (1.0, 0), (2.0, 1_000), (4.0, 5_000), (8.0, 10_000)]
    # at 3.0 s, 3,000 accepted (halfway between 2 s and 4 s); 7,000 more in 5 s
    assert rate_after(samples, 3.0, 8.0, 10_000) == 7_000 / 5.0


def test_rate_after_is_zero_when_the_window_is_too_short_to_tell() -> None:
    samples = [(0.0, 0), (5.0, 9_000), (8.0, 10_000)]
    assert rate_after(samples, 5.0, 8.0, 10_000) == 0.0  # the last 3 s of a run: mostly its tail


def _run(rate: float, busy: float, held_s: float = 0.0, held_rate: float = 0.0) -> RunResult:
    return RunResult(
        records=100_000, seconds=100_000 / rate, delivered_s=0.0, startup_s=0.0, join_s=0.0, steady_rate=rate,
        peak_rss_mb=[100.0], cpu_s={}, machine_busy=busy, all_held_s=held_s, all_held_rate=held_rate,
    )


def _results(one_busy: float) -> Results:
    opts = Options(records=100_000, backlog=0, latency_rate=0, latency_seconds=0, profile_records=0, stage_seconds=0,
                   delivery_records=0, delivery_in_flight=[], delivery_batches=[], workdir=Path("."))  # fmt: skip
    return Results(opts, contenders={
        PROJECT: [_run(10_000, one_busy)], PROCESSES: [_run(9_000, 0.95, held_s=5.4, held_rate=18_000)],
    })  # fmt: skip


def _scaling(r: Results) -> Verdict:
    return next(v for v in verdicts(r) if v.what.startswith("2 processes / 1"))


def test_scaling_is_judged_once_both_processes_held_partitions_where_a_core_was_free() -> None:
    cores = os.cpu_count() or 1
    v = _scaling(_results(one_busy=max(0.0, 1.0 - 1.5 / cores)))  # one process left 1.5 cores idle
    assert v.figure == "1.80 x once both held partitions (0.90 x whole run)"
    assert v.met is True and not v.na


def test_scaling_target_does_not_apply_when_one_process_left_no_core_idle() -> None:
    cores = os.cpu_count() or 1
    v = _scaling(_results(one_busy=1.0 - 0.4 / cores))
    assert v.met is None and v.na == "one process left 0.4 core idle"
