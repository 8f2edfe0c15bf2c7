"""The Kafka broker stops mid-run and comes back: the worker rides it out and loses nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from connector.emulator import EmulatorServer
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.pipeline.harness import (
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
    distinct_delivered,
    fast_group,
    log_tail,
    make_topics,
    report_duplicates,
    soak_only,
    terminate,
    write_worker_config,
)

pytestmark = pytest.mark.integration

WINDOW = DuplicateWindow(max_in_flight=4, max_records=200, commit_interval_ms=200, messages_per_s=4000)


def run_with_outage(
    broker: KafkaBroker,
    name: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    *,
    records: int,
    down_s: float,
    kill: bool,
    fast_eviction: bool,
) -> tuple[int, int]:
    """Stop (or SIGKILL) the broker at a quarter of the run for `down_s`; return (duplicates, delivered while down)."""
    bootstrap = broker.bootstrap
    topic, dlq = make_topics(bootstrap, name, 4)
    garbage = {records // 12, records // 3, records - 1}  # dead letters written around the outage count too
    values: list[bytes | None] = [b"{truncated" if i in garbage else event(i) for i in range(records)]
    produce(bootstrap, topic, values, partitions=4)
    if fast_eviction:
        fast_group(bootstrap, name)
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group=name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching=WINDOW.batching(max_buffered_records=4000), delivery=WINDOW.delivery(),
    )
    log = tmp_path / "worker.log"
    proc = start_worker_process(cfg, log)
    try:
        wait_until(lambda: len(emulator.store.records()) >= records // 4, 60, "delivery under way")
        before = distinct_delivered(emulator, topic)
        if kill:
            broker.kill()
        else:
            broker.stop()
        time.sleep(down_s)
        assert proc.poll() is None, "the worker must survive the outage: " + log_tail(log)
        broker.start()
        while_down = distinct_delivered(emulator, topic) - before
        assert before < records, "the outage must land mid-run"
        wait_until(all_committed(bootstrap, name, topic), 180, "all offsets committed")
    finally:
        terminate(proc)
    result = audit(bootstrap, [topic], emulator, dlq)
    print(f"delivered while the broker was down: {while_down}")
    report_duplicates("broker outage", result, WINDOW.per_disruption + while_down)
    assert result.missing == set(), log_tail(log)
    assert set(result.dead_lettered) == {(topic, i % 4, i // 4) for i in garbage}
    assert len(result.delivered) == records - len(garbage)
    return result.duplicates, while_down


def test_broker_stopped_and_restarted_mid_run_loses_nothing(
    own_kafka_broker: KafkaBroker, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Broker down for 5 s mid-run (within the session timeout), then back: nothing lost, duplicates bounded."""
    duplicates, _ = run_with_outage(
        own_kafka_broker, unique_name, emulator, tmp_path, records=30_000, down_s=5.0, kill=False, fast_eviction=False
    )
    # The member outlives the outage, so the commits librdkafka queued land once the broker is back.
    assert duplicates <= WINDOW.per_disruption


@soak_only
@pytest.mark.slow
def test_soak_broker_killed_past_the_session_timeout_loses_nothing(
    own_kafka_broker: KafkaBroker, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Soak: broker SIGKILLed for longer than the session timeout: the group rebalances, nothing is lost."""
    duplicates, while_down = run_with_outage(
        own_kafka_broker, unique_name, emulator, tmp_path, records=200_000, down_s=15.0, kill=True, fast_eviction=True
    )
    # The session expires, so what was delivered while the broker was away cannot be committed and is sent again.
    assert duplicates <= WINDOW.per_disruption + while_down
