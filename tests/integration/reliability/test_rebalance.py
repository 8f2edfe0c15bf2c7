"""A second worker joins the group mid-run and leaves again: the rebalances lose nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from connector.emulator import EmulatorServer
from tests.integration.pipeline.harness import (
    audit,
    audit_mapping,
    event,
    produce,
    start_worker_process,
    wait_until,
)
from tests.integration.reliability.helpers import (
    FAST_GROUP,
    INLET,
    DuplicateWindow,
    all_committed,
    delivered_at_least,
    distinct_delivered,
    log_contains,
    log_tail,
    make_topics,
    report_duplicates,
    soak_only,
    terminate,
    write_worker_config,
)

pytestmark = pytest.mark.integration

WINDOW = DuplicateWindow(max_in_flight=4, max_records=200, commit_interval_ms=200, messages_per_s=3000)


def run_with_visits(
    bootstrap: str, name: str, emulator: EmulatorServer, tmp_path: Path, *, records: int, visits: int
) -> None:
    """Worker A runs throughout; worker B joins and leaves (SIGTERM) `visits` times, spread over the run."""
    topic, dlq = make_topics(bootstrap, name, 4)
    produce(bootstrap, topic, (event(i) for i in range(records)), partitions=4)
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group=name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)], consumer=FAST_GROUP,
        batching=WINDOW.batching(max_buffered_records=4000), delivery=WINDOW.delivery(),
        observability={"log_level": "info", "log_format": "json"},
    )
    log_a = tmp_path / "worker-a.log"
    a = start_worker_process(cfg, log_a)
    b: subprocess.Popen[bytes] | None = None
    step = records // (2 * visits + 2)
    try:
        for v in range(visits):
            join_at, leave_at = step * (2 * v + 1), step * (2 * v + 2)
            wait_until(delivered_at_least(emulator, topic, join_at), 120, f"join point {v}")
            log_b = tmp_path / f"worker-b{v}.log"
            b = start_worker_process(cfg, log_b)
            wait_until(log_contains(log_b, b"batch_sent"), 60, f"worker B (visit {v}) delivering")
            wait_until(delivered_at_least(emulator, topic, leave_at), 120, f"leave point {v}")
            terminate(b)
            assert b.returncode == 0, log_tail(log_b)
            assert b"partitions_revoked" in log_b.read_bytes()
        assert distinct_delivered(emulator, topic) < records, "the last rebalance must land mid-run"
        wait_until(all_committed(bootstrap, name, topic), 180, "all offsets committed")
    finally:
        if b is not None:
            terminate(b)
        terminate(a)
    assert a.returncode == 0, log_tail(log_a)
    result = audit(bootstrap, [topic], emulator, dlq)
    rebalances = 2 * visits
    report_duplicates(f"join/leave x{visits}", result, rebalances * WINDOW.per_disruption)
    assert result.missing == set(), log_tail(log_a)
    assert result.dead_lettered == {}
    assert len(result.delivered) == records
    assert log_a.read_bytes().count(b"partitions_assigned") >= rebalances + 1, "worker A saw every rebalance"
    assert result.duplicates <= rebalances * WINDOW.per_disruption


def test_second_worker_joining_and_leaving_loses_nothing(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """A second worker joins at a quarter of the run and leaves at half: nothing lost, duplicates bounded."""
    run_with_visits(kafka_bootstrap, unique_name, emulator, tmp_path, records=60_000, visits=1)


@soak_only
@pytest.mark.slow
def test_soak_second_worker_joins_and_leaves_five_times(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Soak: a second worker joins and leaves five times over 300,000 records: nothing lost, duplicates bounded."""
    run_with_visits(kafka_bootstrap, unique_name, emulator, tmp_path, records=300_000, visits=5)
