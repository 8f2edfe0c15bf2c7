"""`aep-connector failures` on the real broker, against the emulator in its production-like default.

Records that break the dataset's schema are acknowledged by DCS or the Edge Network (the worker
commits them), land in failed streaming batches, are found by `failures`, dead-lettered once, and
re-published by `dlq replay`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import yaml
from confluent_kafka import Producer

from connector.cli import main as cli
from connector.emulator import DEFAULT_ORG, EmulatorOptions, EmulatorServer
from connector.emulator.tutorial import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provisioned,
    event_message,
    platform_session,
    provision,
)
from connector.kafka.dead_letter import (
    H_FAILED_RECORD,
    H_OFFSET,
    H_PARTITION,
    H_PAYLOAD,
    H_REASON,
    H_STAGE,
    H_TOPIC,
)
from connector.ops.dlq import REPLAY_HEADER
from tests.harness.kafka_broker import create_topic, end_offsets
from tests.integration.emulator.tutorial import typed_event_mapping
from tests.integration.pipeline.harness import fully_committed, read_topic, wait_until, worker_thread, write_config

pytestmark = pytest.mark.integration
BAD = (7, 33, 58)


def _config(
    tmp_path: Path,
    server: EmulatorServer,
    p: Provisioned,
    *,
    bootstrap: str,
    name: str,
    topic: str,
    mapping: dict[str, Any] | None = None,
) -> Path:
    mapping = mapping or typed_event_mapping(p, topic)
    aep = {
        "ims_org": DEFAULT_ORG,
        "platform_url": server.url,
        "edge": {"url": server.url},
        "auth": {
            "enabled": False,
            "token_url": f"{server.url}/ims/token/v3",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    }
    return write_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group=name, topics=[topic], dead_letter=f"{name}-dlq",
        inlet_url=p.inlet_url, mappings=[mapping], aep=aep,
    )  # fmt: skip


def _produce(bootstrap: str, topic: str, count: int) -> None:
    """`count` records with keys and a header; BAD ones carry a string where the schema wants an integer."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(count):
        row = {"email": f"u{i}@example.com", "points": "many" if i in BAD else i, "ts": "2024-05-01T10:00:00Z"}
        producer.produce(topic, value=orjson.dumps(row), key=f"k-{i}".encode(), headers=[("trace", f"t-{i}".encode())])
    assert producer.flush(30) == 0


def _bad_event(p: Provisioned, email: str, event_id: str) -> dict[str, Any]:
    msg = event_message(p, email, event_id)
    msg["body"]["xdmEntity"][f"_{p.tenant}"]["pointsEarned"] = "many"
    return msg


def _failures(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()  # what ran before (the worker's log lines)
    assert cli(["failures", "-c", str(config), "--since", "1h", "--json", *extra]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def _settled(config: Path, capsys: pytest.CaptureFixture[str], expected: int) -> dict[str, Any]:
    """The report once every streaming batch has closed and `expected` failed records are final."""
    deadline = time.monotonic() + 20
    doc = _failures(config, capsys)
    while (doc["open_batches"] or doc["failed_records"] < expected) and time.monotonic() < deadline:
        time.sleep(0.2)
        doc = _failures(config, capsys)
    return doc


def test_schema_violations_are_accepted_retrieved_dead_lettered_once_and_replayed(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DCS accepts schema-invalid records; failures lists them with AEP's errors, dead-letters the Kafka originals once;
    dlq replay re-publishes them to their topic."""
    server = EmulatorServer(options=EmulatorOptions(batch_window_s=0.3)).start()
    try:
        p = provision(server, platform_session(server))
        topic = f"{unique_name}-src"
        create_topic(kafka_bootstrap, topic, 2)
        create_topic(kafka_bootstrap, f"{unique_name}-dlq", 1)
        config = _config(tmp_path, server, p, bootstrap=kafka_bootstrap, name=unique_name, topic=topic)
        _produce(kafka_bootstrap, topic, 60)
        with worker_thread(config):
            wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "all offsets committed")
        assert sum(end_offsets(kafka_bootstrap, f"{unique_name}-dlq").values()) == 0, "DCS refused nothing"
        totals = requests.get(f"{server.url}/emulator/stats", timeout=5).json()["totals"]
        assert (totals["accepted"], totals["rejected"], totals["failed"], totals["lake"]) == (60, 0, 3, 57)

        doc = _settled(config, capsys, 3)
        assert doc["failed_records"] == 3 and doc["open_batches"] == 0
        assert doc["datasets"] == {p.event_dataset: ["loyalty-typed"]}
        failed = [r for b in doc["batches"] for r in b["failedRecords"]]
        for rec in failed:
            origin = rec["origin"]
            assert rec["entity"][f"_{p.tenant}"]["transactionID"] == f"{topic}/{origin['partition']}/{origin['offset']}"
            (error,) = rec["errors"]
            assert error["keyword"] == "type" and error["pointerToViolation"] == f"#/_{p.tenant}/pointsEarned"
        emails = {r["entity"][f"_{p.tenant}"]["loyaltyID"] for r in failed}
        assert emails == {f"u{i}@example.com" for i in BAD}

        first = _failures(config, capsys, "--dead-letter")["dead_letter"]
        assert (first["written_kafka_records"], first["written_xdm_messages"]) == (3, 0)
        assert first["already_dead_lettered"] == 0
        dead = read_topic(kafka_bootstrap, f"{unique_name}-dlq")
        assert len(dead) == 3
        coords = set()
        for msg in dead:
            h = dict(msg.headers())
            i = int(msg.key().decode().removeprefix("k-"))
            assert i in BAD and orjson.loads(msg.value())["points"] == "many", "the original bytes"
            assert h["trace"] == f"t-{i}".encode(), "the original headers"
            assert h[H_REASON] == b"aep-async-invalid" and h[H_STAGE] == b"aep-async"
            assert h[H_TOPIC] == topic.encode() and h[H_FAILED_RECORD]
            coords.add((int(h[H_PARTITION]), int(h[H_OFFSET])))
        assert coords == {(r["origin"]["partition"], r["origin"]["offset"]) for r in failed}

        again = _failures(config, capsys, "--dead-letter")["dead_letter"]
        assert (again["written_kafka_records"], again["already_dead_lettered"]) == (0, 3), "never written twice"
        assert len(read_topic(kafka_bootstrap, f"{unique_name}-dlq")) == 3

        before = sum(end_offsets(kafka_bootstrap, topic).values())
        capsys.readouterr()
        assert cli(["dlq", "replay", "-c", str(config)]) == 0
        assert "replayed 3" in capsys.readouterr().out
        replayed = [m for m in read_topic(kafka_bootstrap, topic) if REPLAY_HEADER in dict(m.headers() or [])]
        assert sum(end_offsets(kafka_bootstrap, topic).values()) == before + 3
        assert sorted(m.key() for m in replayed) == sorted(f"k-{i}".encode() for i in BAD)
        assert all(orjson.loads(m.value())["points"] == "many" for m in replayed)
    finally:
        server.stop()


def _edge_mapping(p: Provisioned, topic: str, datastream: str) -> dict[str, Any]:
    """The typed mapping sent to a datastream: `dataset_id` names the datastream's event dataset (for `failures`);
    `_id` is left to the connector, so it is derived from the Kafka coordinates."""
    mapping = typed_event_mapping(p, topic)
    for key in ("schema_id", "source_name"):
        del mapping[key]
    return {**mapping, "name": "loyalty-edge", "destination": "edge", "datastream_id": datastream}


def test_edge_events_breaking_the_schema_are_accepted_found_by_their_id_and_dead_lettered(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Edge Network accepts schema-invalid events (the worker commits them); they become failed records of the
    datastream's dataset; failures lists them with their Kafka origin, found from the default _id, and
    --dead-letter writes the original Kafka records."""
    server = EmulatorServer(options=EmulatorOptions(batch_window_s=0.3)).start()
    try:
        p = provision(server, platform_session(server))
        datastream = server.app.edge.create_datastream(dataset_id=p.event_dataset, name="loyalty (Edge)")
        topic = f"{unique_name}-src"
        create_topic(kafka_bootstrap, topic, 2)
        create_topic(kafka_bootstrap, f"{unique_name}-dlq", 1)
        mapping = _edge_mapping(p, topic, datastream)
        config = _config(tmp_path, server, p, bootstrap=kafka_bootstrap, name=unique_name, topic=topic, mapping=mapping)
        _produce(kafka_bootstrap, topic, 60)
        with worker_thread(config):
            wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "all offsets committed")
        assert sum(end_offsets(kafka_bootstrap, f"{unique_name}-dlq").values()) == 0, "the Edge refused nothing"
        edge = requests.get(f"{server.url}/emulator/stats", timeout=5).json()["inlets"][f"datastream:{datastream}"]
        assert (edge["accepted"], edge["rejected"], edge["failed"], edge["lake"]) == (60, 0, 3, 57)

        doc = _settled(config, capsys, 3)
        assert doc["failed_records"] == 3 and doc["open_batches"] == 0 and doc["notes"] == []
        assert doc["datasets"] == {p.event_dataset: ["loyalty-edge"]}
        failed = [r for b in doc["batches"] for r in b["failedRecords"]]
        for rec in failed:
            origin = rec["origin"]
            assert origin["topic"] == topic
            assert rec["entity"][f"_{p.tenant}"]["transactionID"] == f"{topic}/{origin['partition']}/{origin['offset']}"
            assert "header" not in rec["entity"] and len(rec["entity"]["_id"]) == 32
            (error,) = rec["errors"]
            assert error["keyword"] == "type" and error["pointerToViolation"] == f"#/_{p.tenant}/pointsEarned"
        assert {r["entity"][f"_{p.tenant}"]["loyaltyID"] for r in failed} == {f"u{i}@example.com" for i in BAD}
        unsearched = [r["origin"] for b in _failures(config, capsys, "--origin-scan", "0")["batches"]
                      for r in b["failedRecords"]]  # fmt: skip
        assert unsearched == [None] * 3, "the origin comes from the _id search (the event carries none)"

        written = _failures(config, capsys, "--dead-letter")["dead_letter"]
        assert (written["written_kafka_records"], written["written_xdm_messages"]) == (3, 0)
        dead = read_topic(kafka_bootstrap, f"{unique_name}-dlq")
        assert len(dead) == 3
        for msg in dead:
            h = dict(msg.headers())
            i = int(msg.key().decode().removeprefix("k-"))
            assert i in BAD and orjson.loads(msg.value())["points"] == "many" and h["trace"] == f"t-{i}".encode()
            assert h[H_REASON] == b"aep-async-invalid" and h[H_TOPIC] == topic.encode()
        coords = {(int(dict(m.headers())[H_PARTITION]), int(dict(m.headers())[H_OFFSET])) for m in dead}
        assert coords == {(r["origin"]["partition"], r["origin"]["offset"]) for r in failed}

        capsys.readouterr()
        assert cli(["dlq", "replay", "-c", str(config)]) == 0
        assert "replayed 3" in capsys.readouterr().out
        replayed = [m for m in read_topic(kafka_bootstrap, topic) if REPLAY_HEADER in dict(m.headers() or [])]
        assert sorted(m.key() for m in replayed) == sorted(f"k-{i}".encode() for i in BAD)
    finally:
        server.stop()


def test_without_a_readable_origin_the_xdm_message_is_dead_lettered_and_replay_passes_it_over(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed record whose msgId is missing or names a gone offset is dead-lettered as the XDM message, no topic."""
    server = EmulatorServer(options=EmulatorOptions(batch_window_s=0.3)).start()
    try:
        p = provision(server, platform_session(server))
        topic = f"{unique_name}-src"
        create_topic(kafka_bootstrap, topic, 1)
        create_topic(kafka_bootstrap, f"{unique_name}-dlq", 1)
        config = _config(tmp_path, server, p, bootstrap=kafka_bootstrap, name=unique_name, topic=topic)
        no_origin, gone = _bad_event(p, "a@example.com", "e-1"), _bad_event(p, "b@example.com", "e-2")
        gone["header"]["msgId"] = f"{topic}/0/999"
        batch = p.inlet_url.replace("/collection/", "/collection/batch/")
        requests.post(batch, json={"messages": [no_origin, gone]}, timeout=5).raise_for_status()

        doc = _settled(config, capsys, 2)
        assert [r["origin"] for b in doc["batches"] for r in b["failedRecords"]] == [
            None, {"topic": topic, "partition": 0, "offset": 999}
        ]  # fmt: skip
        written = _failures(config, capsys, "--dead-letter")["dead_letter"]
        assert (written["written_kafka_records"], written["written_xdm_messages"]) == (0, 2)
        dead = read_topic(kafka_bootstrap, f"{unique_name}-dlq")
        for msg in dead:
            h = dict(msg.headers())
            assert h[H_PAYLOAD] == b"xdm-message" and H_TOPIC not in h
            assert orjson.loads(msg.value())["body"]["xdmEntity"][f"_{p.tenant}"]["pointsEarned"] == "many"
        capsys.readouterr()
        assert cli(["dlq", "replay", "-c", str(config)]) == 0
        assert "skipped 2 (no origin topic: 2" in capsys.readouterr().out
    finally:
        server.stop()


def test_a_failed_file_with_errors_only_is_listed_but_not_dead_lettered(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When AEP's failed file holds only _validationErrors, failures lists the errors and writes nothing."""
    options = EmulatorOptions(batch_window_s=0.3, failed_record_content="errors-only")
    server = EmulatorServer(options=options).start()
    try:
        p = provision(server, platform_session(server))
        create_topic(kafka_bootstrap, f"{unique_name}-dlq", 1)
        config = _config(tmp_path, server, p, bootstrap=kafka_bootstrap, name=unique_name, topic=f"{unique_name}-src")
        requests.post(p.inlet_url, json=_bad_event(p, "a@example.com", "e-1"), timeout=5).raise_for_status()

        doc = _settled(config, capsys, 1)
        (rec,) = [r for b in doc["batches"] for r in b["failedRecords"]]
        assert rec["origin"] is None and rec["entity"] is None and rec["errors"][0]["keyword"] == "type"
        written = _failures(config, capsys, "--dead-letter")["dead_letter"]
        assert written["unrecoverable"] and written["written_xdm_messages"] == 0
        assert sum(end_offsets(kafka_bootstrap, f"{unique_name}-dlq").values()) == 0
    finally:
        server.stop()


def test_datasets_of_dataflows_are_found_through_flow_service(tmp_path: Path) -> None:
    """A mapping's flow_id leads, through the flow's target connection, to the dataset it writes to."""
    from connector.config import load_settings
    from connector.ops.failures import configured_datasets
    from connector.ops.platform import PlatformClient

    with EmulatorServer() as server:
        p = provision(server, platform_session(server))
        config = _config(tmp_path, server, p, bootstrap="127.0.0.1:1", name="flows", topic="t")
        doc = yaml.safe_load(config.read_text(encoding="utf-8"))
        doc["mappings"][0].update(dataset_id="elsewhere", flow_id=p.profile_flow)
        config.write_text(yaml.safe_dump(doc), encoding="utf-8")
        settings = load_settings(config)
        datasets, notes = configured_datasets(settings, PlatformClient(settings.aep))
        assert datasets == {"elsewhere": ["loyalty-typed"], p.profile_dataset: ["loyalty-typed"]} and notes == []
