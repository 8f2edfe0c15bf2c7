"""A second worker joins the group mid-run and leaves again: the rebalances lose nothing, and with
incremental rebalancing (the default) the first worker gives up only the partitions that move."""

from __future__ import annotations

import json
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
    fast_group,
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
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
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
        a_events = [e["event"] for e in rebalance_events(log_a)]  # before A's own stop revokes everything
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
    # incremental rebalances: A gives partitions up each time B joins (it gets them back when B leaves
    # only if they still have records: the broker hands them over on A's next heartbeat)
    assert a_events.count("partitions_revoked") == visits, a_events
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


def rebalance_events(log: Path) -> list[dict[str, object]]:
    """The worker's partitions_assigned / partitions_revoked / partitions_lost log lines, in order."""
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and '"partitions_' in line:
            event = json.loads(line)
            if event.get("event") in ("partitions_assigned", "partitions_revoked", "partitions_lost"):
                out.append(event)
    return out


def partitions_of(events: list[dict[str, object]], kind: str) -> set[int]:
    """Partition numbers named by every `kind` event (names look like `topic[3]`)."""
    found: set[int] = set()
    for e in events:
        if e["event"] == kind:
            found.update(int(str(p).rsplit("[", 1)[1].rstrip("]")) for p in e["partitions"])  # type: ignore[attr-defined]
    return found


@pytest.mark.parametrize("protocol", ["consumer", "classic"])
def test_joining_worker_takes_only_the_partitions_that_move(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path, protocol: str
) -> None:
    """A second worker joins mid-run. Worker A gives up only the partitions B gets (KIP-848 `consumer`,
    or `classic` with cooperative-sticky); the others are never revoked and none of their records is
    delivered twice; nothing is lost. With eager assignment A would revoke all six partitions."""
    records, partitions = 45_000, 6
    topic, dlq = make_topics(kafka_bootstrap, unique_name, partitions)
    produce(kafka_bootstrap, topic, (event(i) for i in range(records)), partitions=partitions)
    if protocol == "consumer":
        fast_group(kafka_bootstrap, unique_name)  # members learn of a rebalance within a 500 ms heartbeat
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)], group_protocol=protocol,
        consumer=FAST_GROUP if protocol == "classic" else None,
        batching=WINDOW.batching(max_buffered_records=4000), delivery=WINDOW.delivery(),
        observability={"log_level": "info", "log_format": "json"},
    )
    log_a, log_b = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
    a = start_worker_process(cfg, log_a)
    b: subprocess.Popen[bytes] | None = None
    try:
        wait_until(delivered_at_least(emulator, topic, records // 5), 120, "worker A delivering")
        b = start_worker_process(cfg, log_b)
        wait_until(log_contains(log_b, b"batch_sent"), 60, "worker B delivering")
        assert distinct_delivered(emulator, topic) < records, "B must join mid-run"
        wait_until(all_committed(kafka_bootstrap, unique_name, topic), 180, "all offsets committed")
        a_events = rebalance_events(log_a)  # before the shutdown revokes everything
        b_events = rebalance_events(log_b)
    finally:
        if b is not None:
            terminate(b)
        terminate(a)
    assert a.returncode == 0, log_tail(log_a)
    assert b.returncode == 0, log_tail(log_b)
    assert [e["event"] for e in a_events][:1] == ["partitions_assigned"]
    assert partitions_of(a_events[:1], "partitions_assigned") == set(range(partitions)), a_events
    moved = partitions_of(a_events, "partitions_revoked")
    kept = set(range(partitions)) - moved
    assert moved and kept, f"A gave up {sorted(moved)} of {partitions} partitions: {a_events}"
    assert partitions_of(b_events, "partitions_assigned") == moved, (a_events, b_events)
    assert not partitions_of(a_events, "partitions_lost")
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    report_duplicates(f"join ({protocol})", result, WINDOW.per_disruption)
    assert result.missing == set(), log_tail(log_a)
    assert len(result.delivered) == records
    twice = {c: n for c, n in result.delivered.items() if n > 1 and c[1] in kept}
    assert twice == {}, f"records of partitions A kept were delivered again: {sorted(twice)[:5]}"
