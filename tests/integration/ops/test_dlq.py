"""`aep-connector dlq inspect|replay` on a real broker: counts, resumable replay after kill -9, mapping fix."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer

from connector.commands import dlq as dlq_command
from connector.emulator.server import EmulatorServer
from connector.kafka.dead_letter import (
    ERROR_HEADERS,
    H_MESSAGE,
    H_OFFSET,
    H_PARTITION,
    H_REASON,
    H_STAGE,
    H_TIME,
    H_TOPIC,
)
from connector.ops.dlq import PAUSE_ENV, REPLAY_HEADER
from tests.harness.kafka_broker import create_topic, produce
from tests.integration.ops.helpers import MAPPINGS, ROOT, profile_messages, start_worker, wait_for, write_config

pytestmark = pytest.mark.integration

REPLAY_COUNT = 20_000
REPLAY_COUNT_HEADER = "__aep.replay.count"



def _dead_letters(bootstrap: str, dlq: str, origin: str, count: int, reason: str = "invalid-json") -> None:
    """Write `count` dead letters for `origin` as the worker would (original headers + error headers)."""
    failures: list[str] = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
    now = str(int(time.time() * 1000)).encode()
    for i in range(count):
        headers: list[tuple[str, str | bytes | None]] = [
            ("trace-id", f"t-{i}".encode()),
            (H_TOPIC, origin.encode()),
            (H_PARTITION, b"0"),
            (H_OFFSET, str(i).encode()),
            (H_MESSAGE, b"not JSON"),
            (H_REASON, (reason if i % 10 else "aep-rejected").encode()),
            (H_STAGE, b"decode"),
            (H_TIME, now),
        ]
        while True:
            try:
                producer.produce(
                    dlq,
                    key=f"k-{i}".encode(),
                    value=f"v-{i}".encode(),
                    headers=headers,
                    on_delivery=lambda err, _m: failures.append(str(err)) if err else None,
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0 and not failures


def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    out: list[Any] = []
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout_s
    idle_until = None
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(num_messages=5000, timeout=0.5)
            out += [m for m in batch if m.error() is None]
            if len(out) >= expected:
                # keep reading briefly: duplicates beyond `expected` must be seen too
                idle_until = idle_until or time.monotonic() + 2.0
                if time.monotonic() > idle_until:
                    break
    finally:
        consumer.close()
    return out


def _config(tmp_path: Path, bootstrap: str, name: str, origin: str, dlq: str) -> Path:
    return write_config(
        tmp_path / "connector.yaml",
        bootstrap=bootstrap,
        group=f"{name}-group",
        topic=origin,
        dlq=dlq,
        aep={"inlet_url": "http://127.0.0.1:9/collection/unused"},
        observability={"log_format": "json"},
    )


def _replay_cmd(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "connector", "dlq", "replay", "-c", str(config), *extra]


def test_inspect_counts_by_reason_and_topic(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect counts dead letters by reason and source topic and shows samples with headers."""
    origin, dlq = f"{unique_name}-orig", f"{unique_name}-dlq"
    create_topic(kafka_bootstrap, dlq, partitions=2)
    _dead_letters(kafka_bootstrap, dlq, origin, 50)
    config = _config(tmp_path, kafka_bootstrap, unique_name, origin, dlq)
    args = argparse.Namespace(
        config=str(config), dlq_command="inspect", topic=None, reason=None, since="1h", limit=2, json=True
    )
    capsys.readouterr()
    assert dlq_command.main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["records"] == 50 and doc["matched"] == 50
    assert doc["by_reason"] == {"invalid-json": 45, "aep-rejected": 5}
    assert doc["by_source_topic"] == {origin: 50}
    assert len(doc["samples"]) == 2 and doc["samples"][0]["headers"][H_REASON] in ("invalid-json", "aep-rejected")
    args.reason, args.json = "aep-rejected", False
    assert dlq_command.main(args) == 0
    text = capsys.readouterr().out
    assert f"{dlq}: 50 dead letters, 5 matching" in text and "aep-rejected  5" in text


def test_replay_killed_and_restarted_publishes_each_record_once(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """A replay killed with SIGKILL between chunks and restarted leaves each dead letter exactly once in the target."""
    origin, dlq = f"{unique_name}-orig", f"{unique_name}-dlq"
    create_topic(kafka_bootstrap, dlq, partitions=3)
    create_topic(kafka_bootstrap, origin, partitions=2)
    _dead_letters(kafka_bootstrap, dlq, origin, REPLAY_COUNT)
    config = _config(tmp_path, kafka_bootstrap, unique_name, origin, dlq)
    env = {**os.environ, PAUSE_ENV: "1.0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        _replay_cmd(config, "--chunk-size", "1000"), stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    committed = 0
    assert proc.stderr is not None
    for line in proc.stderr:
        if '"dlq_replay_chunk_committed"' in line:
            committed += 1
            if committed == 4:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the replay finished before it could be killed"
    partial = _read_all(kafka_bootstrap, origin, 4000, timeout_s=20)
    assert 4000 <= len(partial) < REPLAY_COUNT

    env.pop(PAUSE_ENV)
    done = subprocess.run(_replay_cmd(config), capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"replayed {REPLAY_COUNT - len(partial)}," in done.stdout

    records = _read_all(kafka_bootstrap, origin, REPLAY_COUNT)
    marks = Counter(dict(m.headers())[REPLAY_HEADER].decode() for m in records)
    assert len(records) == REPLAY_COUNT
    assert len(marks) == REPLAY_COUNT and max(marks.values()) == 1
    assert {dict(m.headers())["trace-id"] for m in records} == {f"t-{i}".encode() for i in range(REPLAY_COUNT)}
    sample = records[0]
    names = [k for k, _ in sample.headers()]
    assert not set(names) & ERROR_HEADERS and names[0] == "trace-id"
    trace = dict(sample.headers())["trace-id"].decode()
    assert sample.key() == f"k-{trace[2:]}".encode() and sample.value() == f"v-{trace[2:]}".encode()

    again = subprocess.run(_replay_cmd(config), capture_output=True, text=True, env=env, timeout=120, check=False)
    assert again.returncode == 0 and "replayed 0," in again.stdout


def _broken_fields() -> dict[str, Any]:
    spec = yaml.safe_load((MAPPINGS / "loyalty-profiles.yaml").read_text(encoding="utf-8"))
    fields: dict[str, Any] = spec["fields"]
    fields["person.birthDate"] = "to_date(value.person.gender)"
    return fields


def test_replay_after_a_mapping_fix_delivers_each_record_once(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, emulator: EmulatorServer
) -> None:
    """Records dead-lettered by a broken mapping reach AEP exactly once after the fix and a replay."""
    topic, dlq = f"{unique_name}-profiles", f"{unique_name}-dlq"
    create_topic(kafka_bootstrap, topic, partitions=2)
    create_topic(kafka_bootstrap, dlq, partitions=1)
    inlet = emulator.inlet_url(emulator.create_inlet())
    common: dict[str, Any] = {
        "bootstrap": kafka_bootstrap,
        "group": f"{unique_name}-group",
        "topic": topic,
        "dlq": dlq,
        "aep": {"inlet_url": inlet},
    }
    broken = write_config(tmp_path / "broken.yaml", **common, mapping_overrides={"fields": _broken_fields()})
    fixed = write_config(tmp_path / "fixed.yaml", **common)
    produce(kafka_bootstrap, topic, profile_messages(30))

    running = start_worker(broken)
    try:
        wait_for(lambda: running.worker.status.dead_lettered == 30, 60, "30 records dead-lettered")
    finally:
        running.stop()
    assert emulator.store.records() == []

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(_replay_cmd(fixed), capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0 and "replayed 30," in done.stdout, done.stderr[-2000:]

    running = start_worker(fixed)
    try:
        wait_for(lambda: running.worker.status.delivered == 30, 60, "the 30 replayed records delivered")
        time.sleep(1.0)
        assert running.worker.status.delivered == 30 and running.worker.status.dead_lettered == 0
    finally:
        running.stop()
    ids = Counter(_loyalty_id(r) for r in emulator.store.records())
    assert len(ids) == 30 and set(ids.values()) == {1}


def _loyalty_id(record: dict[str, Any]) -> str:
    text = json.dumps(record)
    start = text.index('"loyaltyID": "') + len('"loyaltyID": "')
    return text[start : text.index('"', start)]


def _dlq_args(config: Path, command: str, **extra: Any) -> argparse.Namespace:
    base: dict[str, Any] = {"config": str(config), "dlq_command": command, "topic": None, "reason": None, "since": None}
    if command == "inspect":
        base.update(limit=0, json=True)
    else:
        base.update(to="original", dry_run=False, replay_group=None, chunk_size=500, max_replays=1, force=False)
    return argparse.Namespace(**{**base, **extra})


def test_replay_of_an_unfixed_cause_does_not_loop(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replayed with the cause unfixed, records come back with their lineage; the next replay passes them over."""
    topic, dlq = f"{unique_name}-profiles", f"{unique_name}-dlq"
    create_topic(kafka_bootstrap, topic, partitions=1)
    create_topic(kafka_bootstrap, dlq, partitions=1)
    broken = write_config(
        tmp_path / "broken.yaml",
        bootstrap=kafka_bootstrap,
        group=f"{unique_name}-group",
        topic=topic,
        dlq=dlq,
        aep={"inlet_url": emulator.inlet_url(emulator.create_inlet())},
        mapping_overrides={"fields": _broken_fields()},
    )
    produce(kafka_bootstrap, topic, profile_messages(10))

    def dead_letter_round(total: int) -> None:
        running = start_worker(broken)
        try:
            wait_for(lambda: running.worker.status.dead_lettered == 10, 60, f"{total} dead letters in all")
        finally:
            running.stop()

    dead_letter_round(10)
    assert dlq_command.main(_dlq_args(broken, "replay")) == 0
    assert "replayed 10, skipped 0" in capsys.readouterr().out
    dead_letter_round(20)  # the cause is not fixed: the replayed copies are dead-lettered again

    again = [m for m in _read_all(kafka_bootstrap, dlq, 20) if dict(m.headers()).get(REPLAY_COUNT_HEADER)]
    assert len(again) == 10
    for m in again:
        headers = dict(m.headers())
        assert headers[REPLAY_COUNT_HEADER] == b"1"
        assert headers[REPLAY_HEADER].startswith(f"{dlq}/0/".encode())
        assert headers[H_REASON] == b"bad-timestamp"
    assert dlq_command.main(_dlq_args(broken, "inspect")) == 0
    assert json.loads(capsys.readouterr().out)["by_replay_count"] == {"0": 10, "1": 10}

    before = _read_all(kafka_bootstrap, topic, 20, timeout_s=10)
    assert dlq_command.main(_dlq_args(broken, "replay")) == 0
    out = capsys.readouterr().out
    assert "replayed 0, skipped 10 (no origin topic: 0, already replayed: 10)" in out
    assert "their cause is not fixed" in out
    assert len(_read_all(kafka_bootstrap, topic, 20, timeout_s=10)) == len(before) == 20  # nothing re-published

    forced = _dlq_args(broken, "replay", force=True, dry_run=True, replay_group=f"{unique_name}-forced")
    assert dlq_command.main(forced) == 0
    assert "would replay 20, skipped 0" in capsys.readouterr().out
