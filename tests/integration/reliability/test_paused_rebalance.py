"""A partition paused by backpressure when a rebalance takes it away is consumed again once it comes back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from connector.emulator import EmulatorServer
from tests.integration.pipeline.harness import audit, audit_mapping, event, produce, wait_until, worker_thread
from tests.integration.reliability.helpers import INLET, all_committed, make_topics, write_worker_config

pytestmark = pytest.mark.integration


def visit_group(bootstrap: str, group: str, topic: str) -> None:
    """A plain consumer joins the group until it is given partitions, then leaves: two rebalances."""
    assigned: list[int] = []
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 3}
    )
    consumer.subscribe([topic], on_assign=lambda _, parts: assigned.extend(p.partition for p in parts))
    try:
        deadline = time.monotonic() + 60
        while not assigned and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert assigned, "the visitor was never given a partition"
    finally:
        consumer.close()


def test_partitions_paused_at_revocation_resume_after_reassignment(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """DCS down, both partitions paused by backpressure, two rebalances, DCS back: the run completes."""
    topic, dlq = make_topics(kafka_bootstrap, unique_name, 2)
    produce(kafka_bootstrap, topic, (event(i) for i in range(2_000)), partitions=2)
    emulator.faults.set_rules([{"kind": "status", "status": 503, "rate": 1.0}])
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching={"max_records": 50, "max_buffered_records": 200, "linger_ms": 20},
        delivery={"initial_backoff_ms": 50, "max_backoff_ms": 200},
    )
    with worker_thread(cfg) as worker:
        wait_until(lambda: worker.status.paused == 2, 60, "both partitions paused by backpressure")
        visit_group(kafka_bootstrap, unique_name, topic)
        wait_until(lambda: worker.status.assigned == 2, 60, "both partitions back with the worker")
        emulator.faults.clear()
        wait_until(all_committed(kafka_bootstrap, unique_name, topic), 60, "all offsets committed")
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert result.missing == set() and result.dead_lettered == {}
    assert len(result.delivered) == 2_000
