"""The bench's "shared machine" warning: from other processes' CPU, not the bench's own load."""

from __future__ import annotations

import os

import pytest

from bench.__main__ import busy_warning


def test_a_quiet_machine_gets_no_warning_whatever_the_bench_itself_loads() -> None:
    """The bench's broker, emulator and workers push the load average past 1: that alone is no warning."""
    assert busy_warning(load_before=0.3, other_share=0.03) is None


@pytest.mark.parametrize(("load_before", "other_share"), [(0.1, 0.4), (float(os.cpu_count() or 1), 0.0)])
def test_other_work_before_or_during_the_runs_is_flagged(load_before: float, other_share: float) -> None:
    warning = busy_warning(load_before, other_share)
    assert warning is not None and "shared the machine" in warning
