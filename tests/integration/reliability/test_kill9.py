"""kill -9 of the worker process, again and again: every record is delivered or dead-lettered."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from connector.emulator import EmulatorServer
from tests.integration.pipeline.harness import (
    Coord,
    audit,
    audit_mapping,
    event,
    produce,
    start_worker_process,
    wait_until,
)
from tests.integration.reliability.helpers import (
    INLET,
    DuplicateWindow,
    all_committed,
    delivered_uncommitted,
    distinct_delivered,
    fast_group,
    kill_9,
    log_tail,
    make_topics,
    report_duplicates,
    soak_only,
    terminate,
    write_worker_config,
)

pytestmark = pytest.mark.integration

WINDOW = DuplicateWindow(max_in_flight=4, max_records=200, commit_interval_ms=200, messages_per_s=6000)
GARBAGE_EVERY = 10_000  # one undecodable record per 10,000: dead letters must survive the kills too


def reached(emulator: EmulatorServer, rows: int) -> bool:
    return len(emulator.store.records()) >= rows


def run_with_kills(
    bootstrap: str, name: str, emulator: EmulatorServer, tmp_path: Path, *, records: int, kills: int
) -> None:
    topic, dlq = make_topics(bootstrap, name, 4)
    values: list[bytes | None] = [event(i) for i in range(records)]
    garbage = set(range(GARBAGE_EVERY // 2, records, GARBAGE_EVERY))
    for i in garbage:
        values[i] = b"\x00garbage"
    produce(bootstrap, topic, values, partitions=4)
    fast_group(bootstrap, name)  # a restarted worker gets the partitions 6 s after the kill
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group=name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching=WINDOW.batching(max_buffered_records=4000), delivery=WINDOW.delivery(),
    )
    log = tmp_path / "worker.log"
    at_risk: list[int] = []
    ever_at_risk: set[Coord] = set()
    proc = start_worker_process(cfg, log)
    try:
        for k in range(1, kills + 1):
            target = records * k // (kills + 2)  # spread over the run, the last kill well before the end
            wait_until(partial(reached, emulator, target), 120, f"kill point {k} ({target} records)")
            kill_9(proc)
            assert distinct_delivered(emulator, topic) < records, f"kill {k} must land mid-run"
            uncommitted = delivered_uncommitted(emulator, bootstrap, name, topic)
            at_risk.append(len(uncommitted))
            ever_at_risk |= uncommitted
            proc = start_worker_process(cfg, log)
        wait_until(all_committed(bootstrap, name, topic), 180, "all offsets committed")
    finally:
        terminate(proc)
    result = audit(bootstrap, [topic], emulator, dlq)
    print(f"delivered but uncommitted at each kill: {at_risk}")
    report_duplicates(f"kill -9 x{kills}", result, kills * WINDOW.per_disruption)
    assert len(result.produced) == records
    assert result.missing == set(), log_tail(log)
    assert set(result.dead_lettered) == {(topic, i % 4, i // 4) for i in garbage}
    assert all(n <= WINDOW.per_disruption for n in at_risk), (at_risk, WINDOW.per_disruption)
    # A restart resumes exactly at the committed offsets: every record DCS held past them is sent
    # at least once more, and beyond them only requests in flight at the kill can repeat.
    assert all(result.delivered[c] >= 2 for c in ever_at_risk)
    assert len(ever_at_risk) <= result.duplicates <= sum(at_risk) + kills * WINDOW.in_flight
    assert result.duplicates <= kills * WINDOW.per_disruption


def test_five_kill_9s_during_100k_records_lose_nothing(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """100,000 records on 4 partitions, the worker SIGKILLed 5 times and restarted: nothing lost, duplicates bounded."""
    run_with_kills(kafka_bootstrap, unique_name, emulator, tmp_path, records=100_000, kills=5)


@soak_only
@pytest.mark.slow
def test_soak_twenty_kill_9s_during_400k_records_lose_nothing(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Soak: 400,000 records, 20 SIGKILLs and restarts: nothing lost, duplicates bounded."""
    run_with_kills(kafka_bootstrap, unique_name, emulator, tmp_path, records=400_000, kills=20)
