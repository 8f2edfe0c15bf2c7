"""What an operator reads from `run`: a start-up line, a few rate-limited lines per outage, a progress line.

The worker runs as a subprocess with JSON logs; every line it writes is parsed.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from connector.emulator.server import EmulatorServer
from tests.harness.kafka_broker import KafkaBroker, create_topic, produce
from tests.harness.ports import free_port
from tests.integration.ops.helpers import profile_messages, wait_for, write_config
from tests.integration.pipeline.harness import start_worker_process

pytestmark = pytest.mark.integration


def _lines(log: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(JSON events, any other line) of a worker's output."""
    events, raw = [], []
    for line in log.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            raw.append(line)
    return events, raw


def _named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def test_unreachable_broker_at_start_is_a_few_structured_lines(tmp_path: Path) -> None:
    """connector_starting names the brokers; librdkafka's hundreds of connect failures become one kafka_unreachable
    line plus one repeat count; then connector_failed and exit 3. No raw %3|...FAIL lines."""
    bootstrap = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "c.yaml", bootstrap=bootstrap, group="g", topic="t", dlq="t-dlq",
                          aep={"inlet_url": "http://127.0.0.1:9/collection/abc"},
                          observability={"log_format": "json"})  # fmt: skip
    log = tmp_path / "run.log"
    proc = start_worker_process(config, log)
    assert proc.wait(timeout=120) == 3
    events, raw = _lines(log)
    assert events[0]["event"] == "connector_starting" and events[0]["kafka"] == bootstrap
    assert events[0]["dead_letter_topic"] == "t-dlq" and events[0]["inlets"] == ["http://127.0.0.1:9/collection/abc"]
    unreachable = _named(events, "kafka_unreachable")
    assert 1 <= len(unreachable) <= 3, events
    assert unreachable[0]["brokers"] == bootstrap and "Connection refused" in unreachable[0]["error"]
    assert sum(e.get("repeated", 0) for e in unreachable) >= 10, "the storm was counted, not printed"
    assert _named(events, "connector_failed")[0]["stage"] == "start"
    assert raw == [f"fatal: cannot reach Kafka at {bootstrap}: " + raw[0].split(": ", 2)[2]], raw
    assert len(events) <= 6, events


def test_throttling_dcs_is_a_few_lines_and_retry_after_is_honoured(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Every request answered 429 Retry-After: 2 for a while: one dcs_throttled line (delay >= 2 s) and repeat
    counts, never a line per request; progress lines show the backlog, then all 40 delivered."""
    topic = f"{unique_name}-profiles"
    create_topic(kafka_bootstrap, topic, partitions=2)
    produce(kafka_bootstrap, topic, profile_messages(40))
    emulator.faults.set_rules([{"kind": "status", "status": 429, "rate": 1.0, "retry_after": 2}])
    config = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=f"{unique_name}-g", topic=topic,
        dlq=f"{unique_name}-dlq", aep={"inlet_url": emulator.inlet_url(emulator.create_inlet())},
        observability={"log_format": "json", "progress_interval_s": 1},
    )  # fmt: skip

    def throttled() -> int:
        return int(emulator.store.stats()["totals"]["requests_by_status"].get("429", 0))

    log = tmp_path / "run.log"
    proc = start_worker_process(config, log)
    try:
        wait_for(lambda: throttled() >= 10, 90, "ten 429 answers")
        emulator.faults.clear()
        wait_for(lambda: len(emulator.store.records()) == 40, 60, "40 records delivered after the throttling")
        wait_for(lambda: any(e.get("total_delivered") == 40 for e in _named(_lines(log)[0], "progress")), 30,
                 "a progress line with every record delivered")  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    events, raw = _lines(log)
    assert raw == []
    lines = _named(events, "dcs_throttled")
    assert lines and lines[0]["retry_after_s"] == 2.0 and lines[0]["delay_s"] >= 2.0 and lines[0]["status"] == 429
    assert all(e["delay_s"] >= 2.0 for e in lines)
    assert len(lines) <= 3, "one line, then a repeat count per 30 s window (and at shutdown)"
    assert 1 + sum(e.get("repeated", 0) for e in lines) == throttled(), "every 429 counted"
    progress = _named(events, "progress")
    assert any(e["buffered"] > 0 for e in progress), "the backlog shows while throttled"
    assert {"consumed", "delivered", "dead_lettered", "dead_lettered_by_reason", "lag", "paused", "in_flight"} <= set(
        progress[-1]
    )
    assert sum(e["delivered"] for e in progress) == 40


def test_broker_outage_mid_run_is_a_few_lines_per_client(
    own_kafka_broker: KafkaBroker, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """With the broker down for ~10 s the consumer and the dead-letter producer each log kafka_unreachable once
    (plus repeat counts), not a line per reconnect; when it is back the worker delivers again."""
    bootstrap = own_kafka_broker.bootstrap
    topic = "outage-profiles"
    create_topic(bootstrap, topic, partitions=2)
    create_topic(bootstrap, "outage-dlq")
    produce(bootstrap, topic, profile_messages(10))
    config = write_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group="outage-g", topic=topic, dlq="outage-dlq",
        aep={"inlet_url": emulator.inlet_url(emulator.create_inlet())},
        observability={"log_format": "json", "progress_interval_s": 5},
    )  # fmt: skip
    log = tmp_path / "run.log"
    proc = start_worker_process(config, log)
    try:
        wait_for(lambda: len(emulator.store.records()) == 10, 60, "10 records delivered")
        before = len(log.read_text().splitlines())
        own_kafka_broker.stop()
        wait_for(lambda: len(_named(_lines(log)[0], "kafka_unreachable")) >= 2, 30, "kafka_unreachable lines")
        time.sleep(5)
        during = _lines(log)[0][before:]
        own_kafka_broker.start()
        produce(bootstrap, topic, profile_messages(5, start=10))
        wait_for(lambda: len(emulator.store.records()) == 15, 120, "5 more records after the broker came back")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    _, raw = _lines(log)
    assert raw == [], raw[:5]
    unreachable = _named(during, "kafka_unreachable")
    assert {e["client"] for e in unreachable} >= {"consumer"}, unreachable
    per_client = {c: sum(1 for e in unreachable if e["client"] == c) for c in {e["client"] for e in unreachable}}
    assert all(n <= 2 for n in per_client.values()), per_client
    assert len(during) <= 15, [e["event"] for e in during]
