"""`aep-connector run --processes 2` on a real broker: split partitions, exactly once, SIGTERM, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connector.emulator import EmulatorServer
from tests.harness.kafka_broker import create_topic
from tests.harness.ports import free_port
from tests.integration.ops.helpers import http_get
from tests.integration.pipeline.harness import (
    REPO,
    audit,
    audit_mapping,
    event,
    fully_committed,
    produce,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.integration
PARTITIONS = 4


def _start(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path, records: int
) -> tuple[str, int, Path, subprocess.Popen[bytes]]:
    """(topic, metrics port, log, supervisor): `records` events produced, then `run --processes 2` started."""
    config, topic, port = _setup(kafka_bootstrap, unique_name, emulator, tmp_path)
    produce(kafka_bootstrap, topic, (event(i) for i in range(records)), partitions=PARTITIONS)
    log = tmp_path / "supervisor.log"
    return topic, port, log, _supervisor(config, log)


def _setup(kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path) -> tuple[Path, str, int]:
    topic = f"{unique_name}-events"
    create_topic(kafka_bootstrap, topic, PARTITIONS)
    port = free_port()
    config = write_config(
        tmp_path / "connector.yaml",
        bootstrap=kafka_bootstrap,
        group=f"{unique_name}-group",
        topics=[topic],
        dead_letter=f"{unique_name}-dlq",
        inlet_url=emulator.inlet_url(emulator.create_inlet()),
        mappings=[audit_mapping(topic)],
        observability={"metrics_port": port, "log_level": "info", "log_format": "json"},
    )
    return config, topic, port


def _supervisor(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "connector", "run", "-c", str(config), "--processes", "2"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=REPO,
        )  # fmt: skip


def _processes(port: int) -> list[dict[str, Any]]:
    try:
        _, body = http_get(f"http://127.0.0.1:{port}/readyz")
    except OSError:
        return []
    processes: list[dict[str, Any]] = json.loads(body)["processes"]
    return processes


def _both_assigned(port: int) -> bool:
    procs = _processes(port)
    return len(procs) == 2 and all(p["assigned"] > 0 for p in procs) and sum(p["assigned"] for p in procs) == PARTITIONS


def _delivered_metric(port: int) -> float:
    _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    return sum(s.value for s in families["aep_connector_records_delivered"].samples if s.name.endswith("_total"))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _stop(proc: subprocess.Popen[bytes], log: Path) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(90)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("supervisor did not stop:\n" + log.read_text(errors="replace")[-3000:]) from None


def test_two_processes_split_the_partitions_deliver_exactly_once_and_stop_with_commits(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Both children get partitions, every record arrives once, /metrics merges both, SIGTERM commits all."""
    topic, port, log, proc = _start(kafka_bootstrap, unique_name, emulator, tmp_path, 3000)
    try:
        wait_until(lambda: _both_assigned(port), 120, "both processes to hold partitions")
        wait_until(lambda: fully_committed(kafka_bootstrap, f"{unique_name}-group", topic), 120, "all committed")
        result = audit(kafka_bootstrap, [topic], emulator, f"{unique_name}-dlq")
        assert (result.missing, result.duplicates, len(result.dead_lettered)) == (set(), 0, 0)
        wait_until(lambda: _delivered_metric(port) == 3000, 30, "records_delivered_total summed over both to 3000")
        pids = [p["pid"] for p in _processes(port)]
        assert len(set(pids)) == 2 and proc.pid not in pids
    finally:
        code = _stop(proc, log)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert all(_gone(pid) for pid in pids)
    assert fully_committed(kafka_bootstrap, f"{unique_name}-group", topic)
    text = log.read_text(errors="replace")
    assert text.count('"event": "worker_stopped"') == 2, text[-3000:]


def test_a_killed_process_is_restarted_and_nothing_is_lost(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """kill -9 of one child: the supervisor starts a new one in its slot, and every record still arrives."""
    topic, port, log, proc = _start(kafka_bootstrap, unique_name, emulator, tmp_path, 1000)
    try:
        wait_until(lambda: _both_assigned(port), 120, "both processes to hold partitions")
        victim = _processes(port)[0]["pid"]
        os.kill(victim, signal.SIGKILL)

        def restarted() -> bool:
            first = next((p for p in _processes(port) if p["process"] == 0), None)
            return first is not None and first["restarts"] == 1 and first["pid"] not in (None, victim)

        wait_until(restarted, 60, "process 0 to be restarted with a new pid")
        assert _gone(victim)
        produce(kafka_bootstrap, topic, (event(i) for i in range(1000, 2000)), partitions=PARTITIONS)
        wait_until(lambda: _both_assigned(port), 120, "both processes to hold partitions again")
        wait_until(lambda: fully_committed(kafka_bootstrap, f"{unique_name}-group", topic), 120, "all committed")
        result = audit(kafka_bootstrap, [topic], emulator, f"{unique_name}-dlq")
        assert result.missing == set() and len(result.produced) == 2000
        status, _ = http_get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
    finally:
        code = _stop(proc, log)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert '"event": "process_exited"' in log.read_text(errors="replace")
