"""A partition's records reach DCS in offset order, across 503s, resets and timed-out requests that are sent again."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.emulator import EmulatorServer
from tests.integration.pipeline.harness import (
    audit,
    audit_mapping,
    event,
    produce,
    wait_until,
    worker_thread,
)
from tests.integration.reliability.helpers import (
    INLET,
    all_committed,
    delivered_coords,
    make_topics,
    report_duplicates,
    write_worker_config,
)

pytestmark = pytest.mark.integration

RECORDS = 3_000
MAX_RECORDS = 100


def test_partition_order_holds_across_retries(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """One partition, 2 of 3 requests 503, resets and slow answers: first receipts arrive in offset order."""
    topic, dlq = make_topics(kafka_bootstrap, unique_name, 1)
    produce(kafka_bootstrap, topic, (event(i) for i in range(RECORDS)))
    emulator.faults.set_rules(
        [
            {"kind": "status", "status": 503, "sequence": [True, True, False], "repeat": True},
            {"kind": "reset", "rate": 0.05},
            # stored at once, answered after the client gave up: the worker sends the same batch again
            {"kind": "latency", "ms": 1500, "rate": 0.15},
        ],
        seed=11,
    )
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching={"max_records": MAX_RECORDS, "linger_ms": 200},
        delivery={"initial_backoff_ms": 20, "max_backoff_ms": 200},
        aep={"transport": {"read_timeout_s": 0.5}},
    )
    with worker_thread(cfg):
        wait_until(all_committed(kafka_bootstrap, unique_name, topic), 120, "all offsets committed")
    faults = emulator.store.stats()["faults"]
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    print(f"faults injected: {faults}")
    report_duplicates("order across retries", result, faults.get("latency", 0) * MAX_RECORDS)
    assert result.missing == set() and result.dead_lettered == {}
    assert faults.get("status_503", 0) >= 2 * RECORDS // MAX_RECORDS, faults
    assert faults.get("reset", 0) > 0 and faults.get("latency", 0) > 0, faults
    assert 0 < result.duplicates <= faults["latency"] * MAX_RECORDS, "only timed-out batches are sent again"

    offsets = [offset for _, _, offset in delivered_coords(emulator)]
    seen: set[int] = set()
    first: list[int] = []
    highest = -1
    for offset in offsets:
        if offset in seen:
            # a repeat only ever re-sends the batch whose answer timed out: the latest one
            assert offset > highest - MAX_RECORDS, (offset, highest)
            continue
        seen.add(offset)
        first.append(offset)
        highest = max(highest, offset)
    assert first == list(range(RECORDS)), "first receipts are every offset, in order"
