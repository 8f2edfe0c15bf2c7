"""A hostile DCS (503, 429, resets, answers slower than the client timeout): nothing lost or dead-lettered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from connector.emulator import EmulatorServer
from tests.harness.kafka_broker import end_offsets
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
    make_topics,
    report_duplicates,
    soak_only,
    write_worker_config,
)

pytestmark = pytest.mark.integration

MAX_RECORDS = 250
FAULT_MIX: dict[str, Any] = {
    "seed": 7,
    "paths": ["/collection/"],
    "rules": [
        {"kind": "status", "status": 503, "rate": 0.2, "retry_after": 1},
        {"kind": "status", "status": 429, "rate": 0.1, "retry_after": 1},
        {"kind": "reset", "rate": 0.05},
        {"kind": "latency", "ms": 2500, "rate": 0.02},
    ],
}


def run_fault_mix(bootstrap: str, name: str, emulator: EmulatorServer, tmp_path: Path, records: int) -> None:
    topic, dlq = make_topics(bootstrap, name, 4)
    produce(bootstrap, topic, (event(i) for i in range(records)), partitions=4)
    answer = requests.post(f"{emulator.url}/emulator/faults", json=FAULT_MIX, timeout=5)
    assert answer.status_code == 200, answer.text
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group=name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching={"max_records": MAX_RECORDS, "max_in_flight": 4, "linger_ms": 20},
        # the slow answers (2.5 s) outlast the client's read timeout: a timeout, then a retry
        aep={"transport": {"read_timeout_s": 1.0, "connect_timeout_s": 1.0}},
        # retries are never exhausted into the dead-letter topic, even if the budget runs out
        delivery={"initial_backoff_ms": 50, "max_backoff_ms": 1000, "attempts_before_exhausted": 3},
    )
    with worker_thread(cfg) as worker:
        wait_until(all_committed(bootstrap, name, topic), 240, "all offsets committed")
        assert worker.status.running
    faults = emulator.store.stats()["faults"]
    result = audit(bootstrap, [topic], emulator, dlq)
    print(f"faults injected: {faults}")
    # Only a slow answer lets DCS keep a batch the worker then sends again; 503, 429 and resets store nothing.
    bound = faults.get("latency", 0) * MAX_RECORDS
    report_duplicates("fault mix", result, bound)
    for kind in ("status_503", "status_429", "reset", "latency"):
        assert faults.get(kind, 0) > 0, f"no {kind} fault fired: {faults}"
    assert result.missing == set()
    assert result.dead_lettered == {}
    assert sum(end_offsets(bootstrap, dlq).values()) == 0
    assert len(result.delivered) == records
    assert result.duplicates <= bound


def test_fault_mix_loses_nothing_and_dead_letters_nothing(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """20% 503, 10% 429, 5% resets, 2% answers past the read timeout (seed 7): all delivered, none dead-lettered."""
    run_fault_mix(kafka_bootstrap, unique_name, emulator, tmp_path, records=20_000)


@soak_only
@pytest.mark.slow
def test_soak_fault_mix_over_200k_records(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Soak: the same fault mix over 200,000 records: all delivered, none dead-lettered."""
    run_fault_mix(kafka_bootstrap, unique_name, emulator, tmp_path, records=200_000)
