"""Lag gauges, `aep-connector lag` and the health endpoints through an emulator outage, on a real broker."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connector.commands import lag as lag_command
from connector.emulator.server import EmulatorServer
from connector.ops.lag import LagReader
from tests.harness.kafka_broker import create_topic, produce
from tests.harness.ports import free_port
from tests.integration.ops.helpers import http_get, profile_messages, start_worker, wait_for, write_config

pytestmark = pytest.mark.integration



def _gauges(port: int, topic: str) -> dict[int, float]:
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    out: dict[int, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        if family.name == "aep_connector_consumer_lag":
            for s in family.samples:
                if s.labels["topic"] == topic:
                    out[int(s.labels["partition"])] = s.value
    return out


def _command_lag(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[int, int]:
    args = argparse.Namespace(config=str(config), group=None, watch=None, json=True)
    capsys.readouterr()
    assert lag_command.main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    return {p["partition"]: p["lag"] for p in doc["partitions"]}


def test_lag_and_readiness_follow_an_aep_outage(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """During an outage lag grows per partition (gauge = command) and /readyz is 503; after it both recover."""
    topic = f"{unique_name}-profiles"
    create_topic(kafka_bootstrap, topic, partitions=2)
    port = free_port()
    config = write_config(
        tmp_path / "connector.yaml",
        bootstrap=kafka_bootstrap,
        group=f"{unique_name}-group",
        topic=topic,
        dlq=f"{unique_name}-dlq",
        aep={"inlet_url": emulator.inlet_url(emulator.create_inlet())},
        observability={"metrics_port": port, "lag_refresh_s": 0.2, "stuck_after_s": 1.0},
    )
    running = start_worker(config)
    base = f"http://127.0.0.1:{port}"
    try:
        produce(kafka_bootstrap, topic, profile_messages(25))
        wait_for(lambda: running.worker.status.delivered == 25, 60, "the first 25 records delivered")
        wait_for(lambda: _gauges(port, topic) == {0: 0, 1: 0}, 30, "lag gauges at 0 for both partitions")
        assert http_get(f"{base}/readyz")[0] == 200

        emulator.stop()
        produce(kafka_bootstrap, topic, profile_messages(60, start=25))
        wait_for(lambda: sum(_gauges(port, topic).values()) == 60, 30, "lag gauges to reach 60")
        wait_for(lambda: http_get(f"{base}/readyz")[0] == 503, 30, "/readyz to turn 503")
        status, body = http_get(f"{base}/readyz")
        reasons = json.loads(body)["reasons"]
        assert status == 503 and any(r.startswith("AEP unreachable") for r in reasons), reasons
        gauges = _gauges(port, topic)
        assert gauges == {p: float(n) for p, n in _command_lag(config, capsys).items()}
        assert all(v > 0 for v in gauges.values()), gauges
        assert http_get(f"{base}/healthz")[0] == 200

        emulator.start()
        wait_for(lambda: running.worker.status.delivered >= 85, 90, "the backlog delivered after recovery")
        wait_for(lambda: _gauges(port, topic) == {0: 0, 1: 0}, 30, "lag gauges back to 0")
        assert _command_lag(config, capsys) == {0: 0, 1: 0}
        wait_for(lambda: http_get(f"{base}/readyz")[0] == 200, 30, "/readyz back to 200")
        assert http_get(f"{base}/healthz")[0] == 200
        rows = LagReader.for_kafka(running.settings.kafka).rows(running.settings.kafka.group_id, [topic])
        assert sum(r.lag for r in rows) == 0 and sum(r.end for r in rows) == 85
    finally:
        running.stop()
