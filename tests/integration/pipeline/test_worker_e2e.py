"""The foundation guarantee end to end: real broker, real HTTP to the emulator, the real worker."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Literal

import orjson
import pytest

from connector.emulator import DEFAULT_ORG, EmulatorOptions, EmulatorServer
from connector.emulator.tutorial import platform_session, provision
from connector.kafka.dead_letter import (
    H_CLASS,
    H_HTTP_STATUS,
    H_MESSAGE,
    H_OFFSET,
    H_PARTITION,
    H_REASON,
    H_STAGE,
    H_TOPIC,
)
from tests.harness.kafka_broker import committed_offsets, create_topic, end_offsets
from tests.integration.emulator.tutorial import typed_event_mapping
from tests.integration.pipeline.harness import (
    audit,
    audit_mapping,
    event,
    fully_committed,
    produce,
    read_topic,
    start_worker_process,
    wait_until,
    worker_thread,
    write_config,
)

pytestmark = pytest.mark.integration
INLET = "9b0cb233972f3b0092992284c7353f5eead496218e8441a79b25e9421ea127f5"



def topics_for(bootstrap: str, name: str, partitions: int = 4) -> tuple[str, str]:
    topic, dlq = f"{name}-src", f"{name}-dlq"
    create_topic(bootstrap, topic, partitions)
    create_topic(bootstrap, dlq, 1)
    return topic, dlq


def test_ten_thousand_records_over_four_partitions_all_delivered(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """10,000 JSON records on 4 partitions all reach the emulator; committed = end offsets; lag 0."""
    topic, dlq = topics_for(kafka_bootstrap, unique_name)
    produce(kafka_bootstrap, topic, (event(i) for i in range(10_000)), partitions=4)
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
    )
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 120, "all offsets committed")
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert len(result.produced) == 10_000
    assert result.missing == set()
    assert result.dead_lettered == {}
    assert len(result.delivered) == 10_000
    ends = end_offsets(kafka_bootstrap, topic)
    assert ends == {0: 2500, 1: 2500, 2: 2500, 3: 2500}
    lag = {p: ends[p] - c for p, c in committed_offsets(kafka_bootstrap, unique_name, topic).items()}
    assert lag == {0: 0, 1: 0, 2: 0, 3: 0}
    entity = emulator.store.records()[0]["xdmEntity"]
    assert isinstance(entity["_id"], str) and entity["timestamp"] == "2024-05-01T10:00:00Z"


def test_rejected_and_undecodable_records_are_dead_lettered_with_original_bytes(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """207 rejections and non-JSON land in the DLQ with original bytes and error headers; the rest is delivered."""
    topic, dlq = topics_for(kafka_bootstrap, unique_name, partitions=2)
    good = [event(i) for i in range(201)]
    values: list[bytes | None] = [*good[:50], b"{not json", *good[50:], b"\xff\xfe"]
    produce(kafka_bootstrap, topic, values, partitions=2)
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
    )
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "all offsets committed")
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert result.missing == set()
    reasons = {c: dict(m.headers())[H_REASON].decode() for c, m in result.dead_lettered.items()}
    assert sorted(reasons.values()) == ["invalid-json", "invalid-utf8"]
    for coord, msg in result.dead_lettered.items():
        h = dict(msg.headers())
        assert msg.value() in (b"{not json", b"\xff\xfe"), "original bytes are kept"
        assert msg.key() is not None
        assert h[H_TOPIC].decode() == coord[0] and int(h[H_PARTITION]) == coord[1] and int(h[H_OFFSET]) == coord[2]
        assert h[H_STAGE] == b"decode" and h[H_CLASS].endswith(b"DecodeError") and h[H_MESSAGE]
    assert len(result.delivered) == 201


@pytest.mark.parametrize("shape", ["statusCode", "status"])
def test_per_message_207_rejections_are_dead_lettered_and_siblings_delivered(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, shape: Literal["statusCode", "status"]
) -> None:
    """DCS's 207 rejections (either failure shape) go to the DLQ with AEP's message; siblings delivered once.

    Strict emulator mode (async_validation_failures=reject, not production's default) turns chosen records'
    schema violations into per-message 400 entries; production only answers DCCS envelope failures that way
    (tests/integration/emulator/test_failures.py covers production's asynchronous path for the same records).
    """
    options = EmulatorOptions(failure_shape=shape, async_validation_failures="reject")
    emulator = EmulatorServer(port=0, store="memory", options=options).start()
    try:
        _typed_rejections(kafka_bootstrap, unique_name, emulator, tmp_path)
    finally:
        emulator.stop()


def _typed_rejections(kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path) -> None:
    p = provision(emulator, platform_session(emulator))
    topic, dlq = topics_for(kafka_bootstrap, unique_name, partitions=2)
    rows = [{"n": i, "email": f"u{i}@example.com", "points": i, "ts": "2024-05-01T10:00:00Z"} for i in range(300)]
    for i in (7, 150, 299):
        rows[i]["points"] = "many"  # the dataset's schema says integer: DCS rejects, the mapper passes it on
    produce(kafka_bootstrap, topic, (orjson.dumps(r) for r in rows), partitions=2)
    mapping = typed_event_mapping(p, topic)
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=p.inlet_url, mappings=[mapping], aep={"ims_org": DEFAULT_ORG},
    )
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "all offsets committed")
    delivered = {r["xdmEntity"][f"_{p.tenant}"]["transactionID"] for r in emulator.store.records(p.event_dataset)}
    dead = read_topic(kafka_bootstrap, dlq)
    assert len(delivered) == 297
    assert sorted(orjson.loads(m.value())["n"] for m in dead) == [7, 150, 299]
    for msg in dead:
        h = dict(msg.headers())
        assert h[H_STAGE] == b"deliver" and h[H_HTTP_STATUS] == b"400" and h[H_REASON] == b"aep-rejected"
        assert b"pointsEarned" in h[H_MESSAGE], h[H_MESSAGE]
        coord = f"{topic}/{int(h[H_PARTITION])}/{int(h[H_OFFSET])}"
        assert coord not in delivered
    assert len(delivered) + len(dead) == 300
    assert len(emulator.store.records(p.event_dataset)) == 297, "each sibling delivered exactly once"


def test_kill_9_mid_run_then_restart_loses_nothing(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """kill -9 of the worker process mid-run, then a restart: every record is accepted or dead-lettered."""
    topic, dlq = topics_for(kafka_bootstrap, unique_name)
    values: list[bytes | None] = [event(i) for i in range(20_000)]
    values[1234] = b"garbage"
    produce(kafka_bootstrap, topic, values, partitions=4)
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching={"max_records": 200, "commit_interval_ms": 100},
    )
    log = tmp_path / "worker.log"
    proc = start_worker_process(cfg, log)
    try:
        wait_until(lambda: len(emulator.store.records()) >= 3_000, 90, "delivery under way")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        delivered_at_kill = len(emulator.store.records())
        assert delivered_at_kill < 20_000, "the kill must land mid-run"
        proc = start_worker_process(cfg, log)
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 120, "all offsets committed")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert result.missing == set(), log.read_text()[-3000:]
    assert set(result.dead_lettered) == {(topic, 1234 % 4, 1234 // 4)}
    print(f"duplicates after kill -9: {result.duplicates}")


def test_emulator_outage_commits_nothing_dead_letters_nothing_then_completes(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """With DCS down nothing is committed or dead-lettered; the run completes after it returns."""
    topic, dlq = topics_for(kafka_bootstrap, unique_name, partitions=2)
    produce(kafka_bootstrap, topic, (event(i) for i in range(4_000)), partitions=2)
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching={"max_records": 100, "linger_ms": 20, "max_in_flight": 2},
        delivery={"initial_backoff_ms": 50, "max_backoff_ms": 500, "attempts_before_exhausted": 3},
    )
    with worker_thread(cfg) as worker:
        wait_until(lambda: len(emulator.store.records()) >= 300, 60, "delivery under way")
        emulator.stop()
        time.sleep(2.0)  # let in-flight work settle and the last commits land
        committed_during = committed_offsets(kafka_bootstrap, unique_name, topic)
        time.sleep(4.0)
        assert committed_offsets(kafka_bootstrap, unique_name, topic) == committed_during, "no commits while down"
        assert sum(end_offsets(kafka_bootstrap, dlq).values()) == 0, "no dead letters while down"
        assert sum(committed_during.values()) < 4_000
        assert worker.status.running
        emulator.start()
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 90, "all offsets committed")
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert result.missing == set()
    assert result.dead_lettered == {}


def test_sigterm_stops_gracefully_and_commits_only_what_is_final(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """SIGTERM mid-run: the worker exits 0, and every committed offset covers only records AEP accepted."""
    topic, dlq = topics_for(kafka_bootstrap, unique_name, partitions=2)
    produce(kafka_bootstrap, topic, (event(i) for i in range(20_000)), partitions=2)
    emulator.faults.set_rules([{"kind": "latency", "ms": 50, "rate": 1.0}])  # keep requests in flight
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching={"max_records": 100, "max_in_flight": 2, "max_buffered_records": 2_000, "poll_batch": 500},
    )
    proc = start_worker_process(cfg, tmp_path / "worker.log")
    try:
        wait_until(lambda: len(emulator.store.records()) >= 2_000, 60, "delivery under way")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0, (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    committed = committed_offsets(kafka_bootstrap, unique_name, topic)
    assert 0 < sum(committed.values()) < 20_000, "stopped mid-run with progress committed"
    delivered = {(src["partition"], src["offset"]) for src in
                 (r["xdmEntity"]["_acme"]["source"] for r in emulator.store.records())}
    for partition, next_offset in committed.items():
        missing = [o for o in range(next_offset) if (partition, o) not in delivered]
        assert missing == [], f"partition {partition}: committed past undelivered offsets {missing[:5]}"
